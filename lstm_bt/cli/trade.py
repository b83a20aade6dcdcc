"""`lstm-bt trade --paper`: run a strategy on live Binance klines with simulated fills.

A thin layer over `lstm_bt.live.PaperSession`: flags become arguments (the strategy flags as
`lstm-bt backtest` makes them, or a run's report.json / a sweep's summary.json), SIGINT and
SIGTERM end the session cleanly, and a status line shows where it is.
"""

import argparse
import json
import signal
import sys
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
"""

EXAMPLES = """\
examples:
  lstm-bt trade --paper --symbol BTCUSDT --interval 1h --state sessions/btc
  lstm-bt trade --paper --from runs/btc/report.json --state sessions/btc-best --bars 48
  lstm-bt trade --paper --from sweeps/first/summary.json --symbol ETHUSDT --interval 1h \\
      --state sessions/eth
"""


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "trade", help=SUBCOMMANDS["trade"], description=DESCRIPTION, epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_argument_group("mode (one of)")
    mode.add_argument("--paper", action="store_true",
                      help="live klines, simulated fills; no keys needed")
    mode.add_argument("--testnet", action="store_true",
                      help="signed orders on Binance's testnet (not supported yet)")
    mode.add_argument("--live", action="store_true",
                      help="signed orders on Binance (not supported yet)")
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
                         "$LSTM_BT_BINANCE_URL or https://api.binance.com)")
    session.add_argument("--stream-url", help="Binance websocket root (default: "
                         "$LSTM_BT_STREAM_URL or wss://stream.binance.com:9443)")
    session.add_argument("--ws-api-url", help="Binance WebSocket API root, for signed orders "
                         "(unused by --paper)")
    session.add_argument("--data-dir", help="kline store the warm-up history is read "
                         "through (default: $LSTM_BT_DATA_DIR or ./feeds)")
    session.add_argument("-q", "--quiet", action="store_true", help="no status line")
    add_strategy_flags(parser, LSTMStrategy)
    run_group = add_broker_and_seed_flags(parser)
    run_group.add_argument("--strategy-path", metavar="FILE[:CLASS]",
                           help="load an LSTMStrategy subclass from a .py file")
    parser.set_defaults(run=run)


def run(args):
    from ..live import PaperSession
    from ..live.status_line import StatusLine

    _refuse_signed_modes(args)
    strategy_class = LSTMStrategy
    if args.strategy_path:
        strategy_class = load_strategy_class(args.strategy_path, LSTMStrategy)
    params = _session_params(args, strategy_class)
    fill_run_flags(args)
    if not args.symbol or not args.interval:
        raise InvalidParameter(
            "no market: give --symbol and --interval (e.g. --symbol BTCUSDT --interval 1h), "
            "or --from a run's report.json.")
    status = None if args.quiet else StatusLine(args.symbol, args.interval)
    session = PaperSession(
        args.symbol, args.interval, state=args.state, strategy=strategy_class,
        cash=args.cash, commission=args.commission, slippage=args.slippage, seed=args.seed,
        bars=args.bars, base_url=args.base_url, stream_url=args.stream_url,
        data_dir=args.data_dir, status=status, **params)
    try:
        with _stopping_on_signals(session):
            result = session.run()
    finally:
        if status is not None:
            status.close()
    if not args.quiet:
        print(f"paper session {args.symbol} {args.interval}: {result.live_bars} live bars; "
              f"state in {args.state} (plots: lstm-bt plot {args.state})")
    return 0


def _refuse_signed_modes(args):
    chosen = [flag for flag, on in (("--paper", args.paper), ("--testnet", args.testnet),
                                    ("--live", args.live)) if on]
    if len(chosen) != 1:
        raise InvalidParameter(
            f"give exactly one of --paper, --testnet, --live (got "
            f"{', '.join(chosen) or 'none'}); --paper trades on simulated fills.")
    if not args.paper:
        raise InvalidParameter(
            f"{chosen[0]} sends signed orders, which lstm-bt does not do yet; run the same "
            f"session with --paper (live klines, simulated fills).")


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


def _positive_int(text):
    try:
        return check_int("bars", int(text), low=1)
    except (ValueError, InvalidParameter):
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
