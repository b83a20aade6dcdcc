"""`lstm-bt fetch`: download Binance klines into the local store (and optionally a CSV)."""

import sys
from datetime import timedelta

from ..binance import (
    ALTERNATIVE_BASE_URL,
    BinanceClient,
    KlineStore,
    update_store,
    validate_symbol,
    write_kline_csv,
)
from ..binance.transport import DEFAULT_REQUEST_DEADLINE_S, DEFAULT_RETRY_BUDGET_S
from ..settings import REQUEST_DEADLINE_ENV, RETRY_BUDGET_ENV, resolve_seconds
from ..data.dates import check_range, parse_date, to_ms, utc_now
from ..errors import check_int
from ..data.intervals import INTERVALS, get_interval
from . import SUBCOMMANDS

__all__ = ["add_parser", "run"]


def add_parser(subparsers):
    """Register `fetch` and its flags (DESIGN: `--symbol --interval --start [--end] ...`)."""
    parser = subparsers.add_parser(
        "fetch",
        help=SUBCOMMANDS["fetch"],
        description="Download Binance klines into the local SQLite store; a re-run fetches "
                    "only what is missing. Dates are UTC; --start inclusive, --end exclusive.",
    )
    parser.add_argument("--symbol", required=True, help="Binance symbol, e.g. BTCUSDT")
    parser.add_argument("--interval", required=True, metavar="INTERVAL",
                        help=f"one of {' '.join(INTERVALS)}")
    parser.add_argument("--start", required=True, help="first bar, e.g. 2024-01-01")
    parser.add_argument("--end", help="end, exclusive, e.g. 2025-01-01 (default: now)")
    parser.add_argument("--warmup", type=int, default=0, metavar="N",
                        help="also fetch N bars before --start, the history a backtest from "
                             "--start trains its first model on (default: 0; the summary says "
                             "how many a backtest with default params needs)")
    parser.add_argument("--base-url",
                        help="Binance REST root (default: $LSTM_BT_BINANCE_URL or "
                             f"https://api.binance.com; try {ALTERNATIVE_BASE_URL})")
    parser.add_argument("--data-dir",
                        help="kline store directory (default: $LSTM_BT_DATA_DIR or ./feeds)")
    parser.add_argument("--csv-out", metavar="PATH",
                        help="also write the bars as a Binance kline CSV (header, times in ms)")
    parser.add_argument("--request-deadline", metavar="SECONDS",
                        help="most seconds one request may take, body included (default: "
                             f"${REQUEST_DEADLINE_ENV} or {DEFAULT_REQUEST_DEADLINE_S:g})")
    parser.add_argument("--retry-budget", metavar="SECONDS",
                        help="most seconds the fetch spends on failed requests and waiting to "
                             f"retry (default: ${RETRY_BUDGET_ENV} or "
                             f"{DEFAULT_RETRY_BUDGET_S:g})")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def run(args):
    """Fetch what the store lacks, print a one-line summary, return the exit status."""
    symbol = validate_symbol(args.symbol, "--symbol")
    interval = get_interval(args.interval)
    start = parse_date(args.start, "--start")
    end = parse_date(args.end, "--end") if args.end else None
    check_range(start, end, "--start", "--end")
    check_int("--warmup", args.warmup, meaning="bars of history before --start, e.g. 2060")
    deadline = resolve_seconds(args.request_deadline, REQUEST_DEADLINE_ENV,
                               DEFAULT_REQUEST_DEADLINE_S, "--request-deadline")
    budget = resolve_seconds(args.retry_budget, RETRY_BUDGET_ENV, DEFAULT_RETRY_BUDGET_S,
                             "--retry-budget")
    # 1M bars have no fixed length: the longest month over-fetches a little, never too few.
    first = start - timedelta(milliseconds=args.warmup * interval.longest_ms)
    start_ms, end_ms = to_ms(first), to_ms(end or utc_now())
    progress = not args.quiet and sys.stderr.isatty()
    with KlineStore.in_dir(args.data_dir) as store, \
            BinanceClient(args.base_url, deadline=deadline, retry_budget=budget) as client:
        fetched = update_store(store, client, symbol, interval, start_ms, end_ms,
                               progress=progress)
        bars = store.count(symbol, interval, start_ms, end_ms)
        warmup_bars = store.count(symbol, interval, start_ms, to_ms(start))
        if args.csv_out:
            frame = store.read_frame(symbol, interval, start_ms, end_ms, close_time=True)
            write_kline_csv(args.csv_out, frame, interval)
    until = f"{end:%Y-%m-%d %H:%M}" if end else "now"
    written = f"; wrote {args.csv_out}" if args.csv_out else ""
    print(f"{symbol} {interval}: {bars} bars from {first:%Y-%m-%d %H:%M} to {until} in "
          f"{store.path} ({fetched} fetched in {client.requests_made} requests){written}")
    print(_history_note(start, warmup_bars))
    if bars == 0:
        print(f"lstm-bt: warning: Binance has no {symbol} {interval} bars from "
              f"{first:%Y-%m-%d %H:%M} to {until} (before the symbol was listed, or not yet "
              f"traded); check --symbol and the dates.", file=sys.stderr)
    return 0


def _history_note(start, warmup_bars):
    """What a default backtest from `start` needs before it, against what the store holds."""
    from ..models.schedule import required_history
    from ..strategies import LSTMStrategy

    defaults = dict(LSTMStrategy.params._gettuple())
    needed = required_history(defaults["train_window"], defaults["seq_len"])
    have = f"{warmup_bars} stored" + ("" if warmup_bars >= needed else
                                      f"; add --warmup {needed} to fetch them")
    return (f"a backtest from {start:%Y-%m-%d %H:%M} with default params needs train_window + "
            f"seq_len = {defaults['train_window']} + {defaults['seq_len']} = {needed} bars "
            f"before it ({have})")
