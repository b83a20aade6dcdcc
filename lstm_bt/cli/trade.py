"""`lstm-bt trade`: run a strategy on live Binance klines, with simulated fills (`--paper`) or
signed orders (`--testnet`, `--live`).

A thin layer over `lstm_bt.live.PaperSession`: flags become arguments (the strategy flags as
`lstm-bt backtest` makes them, or a run's report.json / a sweep's summary.json), SIGINT and
SIGTERM end the session cleanly, and a status line shows where it is. The signed modes add the
key, the WebSocket API root, the risk limits and the kill switch (`lstm_bt.orders`).
"""

import argparse
import json
import os
import signal
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path

from ..errors import InvalidParameter, check_int
from ..strategies import LSTMStrategy
from . import SUBCOMMANDS
from .backtest import add_broker_and_seed_flags, fill_run_flags, read_report, report_params
from .strategy_flags import add_strategy_flags, load_strategy_class, strategy_kwargs

__all__ = ["add_parser", "run"]

DESCRIPTION = """\
Trade LSTMStrategy on Binance's live klines. --paper simulates the fills as a backtest does
(next bar's open, slippage, commission) under the exchange's lot, tick and notional rules. The
session lives in --state DIR: a journal of every bar, forecast, order and fill, and
forecasts.csv, trades.csv, equity.csv, report.json kept current (lstm-bt plot DIR draws them).
Run the same command again to resume it after a stop or a crash. Ctrl-C or SIGTERM stops it
cleanly once the bar in hand is dealt with; the position is left as it is.

--testnet and --live send each decision as a signed market order (POST /api/v3/order) to
Binance's spot testnet or the real exchange, with the key in LSTM_BT_API_KEY and
LSTM_BT_API_SECRET (or --key-file): written to the journal before it is sent, never sent twice,
checked against Binance at every start. The kill switch (--kill-file, or SIGUSR1) cancels open
orders, sells the position with --flatten-on-kill, and stops.
"""

EXAMPLES = """\
examples:
  lstm-bt trade --paper --symbol BTCUSDT --interval 1h --state sessions/btc
  lstm-bt trade --paper --from runs/btc/report.json --state sessions/btc-best --bars 48
  lstm-bt trade --paper --from sweeps/first/summary.json --symbol ETHUSDT --interval 1h \\
      --state sessions/eth
  LSTM_BT_API_KEY=... lstm-bt trade --testnet --from runs/btc/report.json --state \\
      sessions/btc-testnet --key-file ~/.binance/testnet.pem --kill-file /tmp/kill-btc
"""

WS_API_URL_ENV = "LSTM_BT_WS_API_URL"
CONFIRM_FLAG = "--i-understand-real-money"


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "trade", help=SUBCOMMANDS["trade"], description=DESCRIPTION, epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_argument_group("mode (one of)")
    mode.add_argument("--paper", action="store_true",
                      help="live klines, simulated fills; no keys needed")
    mode.add_argument("--testnet", action="store_true",
                      help="signed market orders on Binance's spot testnet")
    mode.add_argument("--live", action="store_true",
                      help=f"signed market orders on Binance, real money (needs "
                           f"{CONFIRM_FLAG})")
    session = parser.add_argument_group("session")
    session.add_argument("--symbol", help="Binance symbol, e.g. BTCUSDT")
    session.add_argument("--interval", help="Binance interval, e.g. 1h")
    session.add_argument("--from", dest="from_report", metavar="JSON",
                         help="a run's report.json or a sweep's summary.json (its best "
                              "config): its params; flags given here override them")
    session.add_argument("--state", metavar="DIR", required=True,
                         help="the session's directory: journal and files; the same DIR "
                              "resumes the session")
    session.add_argument("--bars", type=_positive_int, metavar="N",
                         help="stop after the session's Nth live bar (default: run until "
                              "stopped)")
    session.add_argument("--base-url", help="Binance REST root (default: "
                         "$LSTM_BT_BINANCE_URL, else https://api.binance.com; "
                         "https://testnet.binance.vision with --testnet)")
    session.add_argument("--stream-url", help="Binance websocket root (default: "
                         "$LSTM_BT_STREAM_URL, else wss://stream.binance.com:9443; "
                         "wss://stream.testnet.binance.vision with --testnet)")
    session.add_argument("--ws-api-url", help="Binance WebSocket API root for the user data "
                         f"stream (default: ${WS_API_URL_ENV}, else Binance's or the "
                         "testnet's; unused by --paper)")
    session.add_argument("--data-dir", help="kline store the warm-up history is read "
                         "through (default: $LSTM_BT_DATA_DIR or ./feeds)")
    session.add_argument("-q", "--quiet", action="store_true", help="no status line")
    signed = parser.add_argument_group("signed orders (--testnet, --live)")
    signed.add_argument(CONFIRM_FLAG, dest="confirmed", action="store_true",
                        help="required with --live: orders spend real money")
    signed.add_argument("--key-file", metavar="FILE",
                        help="the API secret (HMAC) or Ed25519 private key (PEM), mode 600 "
                             "(default: $LSTM_BT_API_SECRET); the API key is "
                             "$LSTM_BT_API_KEY")
    signed.add_argument("--max-notional", type=_positive_decimal, metavar="QUOTE",
                        help="refuse an order worth more than this (off unless given)")
    signed.add_argument("--max-daily-loss", type=_positive_decimal, metavar="QUOTE",
                        help="only sell once equity fell this much within a UTC day")
    signed.add_argument("--max-orders-per-minute", type=_positive_int, metavar="N",
                        help="refuse orders beyond N within 60 s")
    signed.add_argument("--kill-file", metavar="PATH",
                        help="kill switch: when PATH exists (or on SIGUSR1) open orders are "
                             "cancelled and the session stops")
    signed.add_argument("--flatten-on-kill", action="store_true",
                        help="the kill switch also sells the session's position")
    add_strategy_flags(parser, LSTMStrategy)
    run_group = add_broker_and_seed_flags(parser)
    run_group.add_argument("--strategy-path", metavar="FILE[:CLASS]",
                           help="load an LSTMStrategy subclass from a .py file")
    parser.set_defaults(run=run)


def run(args):
    from ..live import PaperSession
    from ..live.status_line import StatusLine

    mode = _mode(args)
    strategy_class = LSTMStrategy
    if args.strategy_path:
        strategy_class = load_strategy_class(args.strategy_path, LSTMStrategy)
    params = _session_params(args, strategy_class)
    fill_run_flags(args)
    if not args.symbol or not args.interval:
        raise InvalidParameter(
            "no market: give --symbol and --interval (e.g. --symbol BTCUSDT --interval 1h), "
            "or --from a run's report.json.")
    exchange = None if mode == "paper" else _exchange_access(args, mode, params)
    status = None if args.quiet else StatusLine(args.symbol, args.interval)
    session = PaperSession(
        args.symbol, args.interval, state=args.state, strategy=strategy_class,
        cash=args.cash, commission=args.commission, slippage=args.slippage, seed=args.seed,
        bars=args.bars, base_url=args.base_url, stream_url=args.stream_url,
        data_dir=args.data_dir, status=status, exchange=exchange, **params)
    try:
        with _stopping_on_signals(session):
            result = session.run()
    finally:
        if status is not None:
            status.close()
    if not args.quiet:
        print(f"{mode} session {args.symbol} {args.interval}: {result.live_bars} live bars; "
              f"state in {args.state} (plots: lstm-bt plot {args.state})")
    return 0


def _mode(args):
    """`"paper"`, `"testnet"` or `"live"`; `--testnet` fills in the testnet's roots."""
    from ..binance.account import TESTNET_BASE_URL, TESTNET_STREAM_URL

    chosen = [flag for flag, on in (("--paper", args.paper), ("--testnet", args.testnet),
                                    ("--live", args.live)) if on]
    if len(chosen) != 1:
        raise InvalidParameter(
            f"give exactly one of --paper, --testnet, --live (got "
            f"{', '.join(chosen) or 'none'}); --paper trades on simulated fills.")
    if args.live and not args.confirmed:
        raise InvalidParameter(
            f"--live sends orders that spend real money; add {CONFIRM_FLAG} to confirm, or "
            f"try the session with --testnet first.")
    if args.testnet:
        args.base_url = args.base_url or TESTNET_BASE_URL
        args.stream_url = args.stream_url or TESTNET_STREAM_URL
    return chosen[0][2:]


def _exchange_access(args, mode, params):
    """The key, roots, limits and kill switch of a signed session."""
    from ..binance.account import LIVE_WS_API_URL, TESTNET_WS_API_URL
    from ..binance.signing import load_api_key
    from ..live import ExchangeAccess
    from ..orders import RiskLimits

    if params.get("allow_short"):
        raise InvalidParameter(
            f"--allow-short: a spot account cannot sell what it does not hold; drop it for "
            f"--{mode} (it stays for --paper and backtests).")
    default_ws = TESTNET_WS_API_URL if mode == "testnet" else LIVE_WS_API_URL
    ws_api_url = args.ws_api_url or os.environ.get(WS_API_URL_ENV) or default_ws
    if not ws_api_url.startswith(("ws://", "wss://")):
        raise InvalidParameter(
            f"Received an invalid value for `--ws-api-url`: {ws_api_url!r}. Give a ws(s) "
            f"root such as {default_ws}.")
    limits = RiskLimits(args.max_notional, args.max_daily_loss, args.max_orders_per_minute)
    return ExchangeAccess(mode, load_api_key(args.key_file), ws_api_url,
                          None if limits == RiskLimits() else limits, args.kill_file,
                          args.flatten_on_kill)


def _session_params(args, strategy_class):
    """The strategy params: the flags given, over those of `--from` (a report.json, or a
    summary.json's best config), which also fill --symbol, --interval, the broker and --seed
    when they are left out."""
    given = strategy_kwargs(args, strategy_class)
    if not args.from_report:
        return given
    try:
        content = json.loads(Path(args.from_report).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InvalidParameter(
            f"--from {args.from_report}: not readable JSON ({error}); pass a run's report.json "
            f"or a sweep's summary.json.") from None
    if isinstance(content, dict) and "best" in content:
        return _from_sweep(args, content, given)
    data, params = read_report(args.from_report)
    args.symbol = args.symbol or data.get("symbol")
    args.interval = args.interval or data.get("interval")
    return report_params(args, params, given)


def _from_sweep(args, summary, given):
    """The best config of a sweep's summary.json; the market and broker from its spec.toml
    (beside it) when it names one symbol."""
    from ..sweeps.spec import load_spec

    best = summary["best"]
    if not isinstance(best, dict) or not isinstance(best.get("params"), dict):
        raise InvalidParameter(
            f"--from {args.from_report}: the sweep has no best config (no cell finished); "
            f"give the params as flags instead.")
    spec_path = Path(args.from_report).with_name("spec.toml")
    if spec_path.is_file():
        spec = load_spec(spec_path)
        if len(spec.symbols) == 1:
            args.symbol = args.symbol or spec.symbols[0]
        args.interval = args.interval or spec.interval
        fill_run_flags(args, spec.broker)
    params = {name: tuple(value) if isinstance(value, list) else value
              for name, value in best["params"].items()}
    return {**params, **given}


class _stopping_on_signals:
    """SIGINT and SIGTERM ask the session to stop at the next bar boundary; a second SIGINT
    interrupts at once. Handlers are installed only in the main thread and put back after."""

    def __init__(self, session):
        self.session = session
        self.saved = {}

    def __enter__(self):
        import threading

        if threading.current_thread() is threading.main_thread():
            for number in (signal.SIGINT, signal.SIGTERM):
                self.saved[number] = signal.signal(number, self._handle)
        return self

    def __exit__(self, *exc_info):
        for number, handler in self.saved.items():
            signal.signal(number, handler)

    def _handle(self, number, frame):
        if number == signal.SIGINT and self.session.stopping:
            raise KeyboardInterrupt
        print("lstm-bt: stopping after the bar in hand (Ctrl-C again to interrupt now)",
              file=sys.stderr)
        self.session.request_stop()


def _positive_decimal(text):
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite() or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _positive_int(text):
    try:
        return check_int("bars", int(text), low=1)
    except (ValueError, InvalidParameter):
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
