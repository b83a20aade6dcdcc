"""`lstm-bt plot RUN_DIR`: re-draw a run directory's plots from its CSVs, report and
training.json."""

from . import SUBCOMMANDS

__all__ = ["add_parser", "run"]


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "plot",
        help=SUBCOMMANDS["plot"],
        description="Re-draw equity.png, forecasts.png and (when training.json holds a fit) "
                    "training.png of a run directory written by `lstm-bt backtest --out DIR`, "
                    "from its report.json, CSVs and training.json.",
    )
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a backtest's --out directory")
    parser.add_argument("--log", action="store_true",
                        help="draw equity.png's values on a log scale")
    parser.set_defaults(run=run)


def run(args):
    from ..run.run_dir import read_run_dir, write_plots

    drawn = write_plots(args.run_dir, read_run_dir(args.run_dir), log=args.log)
    for path in drawn:
        if not args.quiet:
            print(path)
    return 0
