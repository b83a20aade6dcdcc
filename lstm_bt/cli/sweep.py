"""`lstm-bt sweep`: run a robustness sweep from a TOML spec (a thin layer over `lstm_bt.sweep()`)."""

from . import SUBCOMMANDS

__all__ = ["add_parser", "run"]


def add_parser(subparsers):
    """Register `sweep` and its flags (DESIGN "Sweeps")."""
    parser = subparsers.add_parser(
        "sweep",
        help=SUBCOMMANDS["sweep"],
        description="Run one walk-forward backtest per cell (config x symbol x period x seed) "
                    "in local worker processes or on a Dask cluster and write report.html (the "
                    "verdict), cells.csv, configs.csv, breakdown.csv, summary.json and plots "
                    "into --out. Re-running into the same --out runs only unfinished "
                    "cells; one sweep or backtest at a time writes into an --out. --dry-run "
                    "prints what the spec makes and a rough time estimate instead. Exit status: "
                    "0 all cells ran, 3 some failed (see cells.csv), 2 bad spec, busy --out or "
                    "lost scheduler.",
    )
    parser.add_argument("spec", metavar="SPEC.toml", help="the sweep spec (see README)")
    parser.add_argument("--out", metavar="DIR",
                        help="output directory (required unless --dry-run)")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the cells, configs and walk-forwards the spec makes and a "
                             "rough estimate of the time; run nothing, write nothing, ask no "
                             "server")
    parser.add_argument("--max-cells", type=int, metavar="N",
                        help="refuse a spec that makes more than N cells, counted before any "
                             "is planned (default: 100000)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, metavar="N",
                       help="local worker processes (default: one per usable core)")
    where.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                       help="run on an existing Dask cluster (`dask scheduler`)")
    parser.add_argument("--restart-workers-every", type=int, metavar="N",
                        help="replace each local worker process by a fresh one after N "
                             "walk-forwards, to give back the memory TensorFlow keeps; 0 never "
                             "(default: 50)")
    parser.add_argument("--data-dir",
                        help="kline store and (JAX) compiled programs (default: "
                             "$LSTM_BT_DATA_DIR or ./feeds)")
    parser.add_argument("--base-url",
                        help="Binance REST root (default: $LSTM_BT_BINANCE_URL or "
                             "https://api.binance.com)")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress bar or dashboard link")
    parser.set_defaults(run=run)


def run(args):
    """Run the sweep, print its summary in plain words, return 0, or 3 if cells failed; with
    --dry-run print what it would run and return 0."""
    from ..errors import InvalidParameter
    from ..sweeps import EXIT_SOME_FAILED, estimate_sweep, sweep

    if args.dry_run:
        estimate = estimate_sweep(args.spec, workers=args.workers, scheduler=args.scheduler,
                                  max_cells=args.max_cells)
        print(estimate.describe(args.spec))
        return 0
    if args.out is None:
        raise InvalidParameter("lstm-bt sweep needs --out DIR (where the results go), or "
                               "--dry-run to only count the cells and estimate the time.")
    result = sweep(args.spec, out=args.out, workers=args.workers, scheduler=args.scheduler,
                   data_dir=args.data_dir, base_url=args.base_url, quiet=args.quiet,
                   restart_workers_every=args.restart_workers_every,
                   max_cells=args.max_cells)
    print(result.describe())
    print(f"report: {result.out / 'report.html'}")
    return EXIT_SOME_FAILED if result.failed else 0
