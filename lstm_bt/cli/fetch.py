"""`lstm-bt fetch`: download Binance klines into the local store (and optionally a CSV)."""

import sys

from ..binance import (
    ALTERNATIVE_BASE_URL,
    BinanceClient,
    KlineStore,
    update_store,
    validate_symbol,
    write_kline_csv,
)
from ..dates import check_range, parse_date, to_ms, utc_now
from ..intervals import INTERVALS, get_interval

__all__ = ["add_parser", "run"]


def add_parser(subparsers):
    """Register `fetch` and its flags (DESIGN: `--symbol --interval --start [--end] ...`)."""
    parser = subparsers.add_parser(
        "fetch",
        help="download Binance klines into the local store",
        description="Download Binance klines into the local SQLite store; a re-run fetches "
                    "only what is missing. Dates are UTC; --start inclusive, --end exclusive.",
    )
    parser.add_argument("--symbol", required=True, help="Binance symbol, e.g. BTCUSDT")
    parser.add_argument("--interval", required=True, metavar="INTERVAL",
                        help=f"one of {' '.join(INTERVALS)}")
    parser.add_argument("--start", required=True, help="first bar, e.g. 2024-01-01")
    parser.add_argument("--end", help="end, exclusive, e.g. 2025-01-01 (default: now)")
    parser.add_argument("--base-url",
                        help="Binance REST root (default: $LSTM_BT_BINANCE_URL or "
                             f"https://api.binance.com; try {ALTERNATIVE_BASE_URL})")
    parser.add_argument("--data-dir",
                        help="kline store directory (default: $LSTM_BT_DATA_DIR or ./feeds)")
    parser.add_argument("--csv-out", metavar="PATH",
                        help="also write the bars as a Binance kline CSV (header, times in ms)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def run(args):
    """Fetch what the store lacks, print a one-line summary, return the exit status."""
    symbol = validate_symbol(args.symbol, "--symbol")
    interval = get_interval(args.interval)
    start = parse_date(args.start, "--start")
    end = parse_date(args.end, "--end") if args.end else None
    check_range(start, end, "--start", "--end")
    start_ms, end_ms = to_ms(start), to_ms(end or utc_now())
    progress = not args.quiet and sys.stderr.isatty()
    with KlineStore.in_dir(args.data_dir) as store, BinanceClient(args.base_url) as client:
        fetched = update_store(store, client, symbol, interval, start_ms, end_ms,
                               progress=progress)
        bars = store.count(symbol, interval, start_ms, end_ms)
        if args.csv_out:
            frame = store.read_frame(symbol, interval, start_ms, end_ms, close_time=True)
            write_kline_csv(args.csv_out, frame, interval)
    until = f"{end:%Y-%m-%d %H:%M}" if end else "now"
    written = f"; wrote {args.csv_out}" if args.csv_out else ""
    print(f"{symbol} {interval}: {bars} bars from {start:%Y-%m-%d %H:%M} to {until} in "
          f"{store.path} ({fetched} fetched in {client.requests_made} requests){written}")
    return 0
