"""`lstm-bt backtest`: a walk-forward LSTM backtest from Binance, a kline file or demo data.

A thin layer over `lstm_bt.runner.run_backtest`: it turns flags into arguments, prints a
compact summary, and leaves the run directory to the runner.
"""

import argparse
import os

from ..errors import InvalidParameter
from ..strategies import LSTMStrategy
from .strategy_flags import add_strategy_flags, finite_float, load_strategy_class, strategy_kwargs

__all__ = ["add_parser", "run", "format_summary"]

DESCRIPTION = """\
Run LSTMStrategy walk-forward: the model is retrained every --retrain-every bars on the last
--train-window bars, and trades from --start (inclusive) to --end (exclusive), dates in UTC.
The history the first model needs is loaded from before --start automatically.
"""

EXAMPLES = """\
examples:
  lstm-bt backtest --demo --out runs/demo
  lstm-bt backtest --symbol BTCUSDT --interval 1h --start 2024-01-01 --end 2025-01-01 --out runs/btc
  lstm-bt backtest --csv BTCUSDT-1h-2024.csv --start 2024-03-01 --seq-len 30 --epochs 5
  lstm-bt backtest --demo --strategy-path strategies/rsi_macd.py --param rsi_period=21
"""


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "backtest",
        help="run a walk-forward LSTM backtest and write a run directory",
        description=DESCRIPTION,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    data = parser.add_argument_group(
        "data: --symbol/--interval/--start (Binance), --csv PATH, or --demo"
    )
    data.add_argument("--symbol", help="Binance symbol, e.g. BTCUSDT (with --csv: a label)")
    data.add_argument("--interval", help="Binance interval, e.g. 1h (with --csv: read from "
                      "the file name or the bar spacing when left out)")
    data.add_argument("--start", help="first traded and measured bar, UTC, inclusive "
                      "(default: the first bar with enough history)")
    data.add_argument("--end", help="end, UTC, exclusive (default: the end of the data)")
    data.add_argument("--csv", metavar="PATH", help="a Binance kline file (.csv or .zip)")
    data.add_argument("--demo", action="store_true",
                      help="synthetic hourly data with learnable AR(1) returns, offline")
    data.add_argument("--base-url", help="Binance REST root (default: $LSTM_BT_BINANCE_URL "
                      "or https://api.binance.com)")
    data.add_argument("--data-dir", help="kline store and forecast cache directory "
                      "(default: $LSTM_BT_DATA_DIR or ./feeds)")
    data.add_argument("--offline", action="store_true",
                      help="read Binance bars from the kline store only, never the network "
                           "(fill it first with lstm-bt fetch)")

    add_strategy_flags(parser, LSTMStrategy)

    broker = parser.add_argument_group("broker")
    broker.add_argument("--cash", type=finite_float, default=10_000.0, metavar="AMOUNT",
                        help="starting cash in the quote currency, e.g. USDT (default: 10000)")
    broker.add_argument("--commission", type=finite_float, default=0.001, metavar="FRACTION",
                        help="fee per trade as a fraction of its value (default: 0.001, "
                             "Binance's spot taker fee)")
    broker.add_argument("--slippage", type=finite_float, default=0.0, metavar="FRACTION",
                        help="fills worse than the price by this fraction, e.g. 0.0005 "
                             "(default: 0)")

    run_group = parser.add_argument_group("run")
    run_group.add_argument("--seed", type=_seed, default=0, metavar="N",
                           help="seeds the model, 0 to 4294967295: the same data, params and "
                                "seed give identical forecasts and trades (default: 0)")
    run_group.add_argument("--strategy-path", metavar="FILE[:CLASS]",
                           help="load an LSTMStrategy subclass from a .py file")
    run_group.add_argument("--out", metavar="DIR", help="write the run directory here "
                           "(report.json, equity.csv, trades.csv, forecasts.csv, *.png)")
    run_group.add_argument("--force", action="store_true",
                           help="overwrite --out even if it holds a different run")
    run_group.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    run_group.add_argument("--no-cache", dest="cache", action="store_false",
                           help="train even if the forecast cache (in --data-dir) holds this "
                                "run's forecasts, and store nothing there")
    parser.set_defaults(run=run)


def run(args):
    # TensorFlow's C++ errors about absent CUDA and graph attributes would bury the table (its
    # start-up info lines print regardless); a user who wants them sets the variable. Set
    # before TensorFlow loads, in this process only.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from ..runner import DEMO_SYMBOL, demo_klines, run_backtest

    strategy_class = LSTMStrategy
    if args.strategy_path:
        strategy_class = load_strategy_class(args.strategy_path, LSTMStrategy)
    data = _data_argument(args, demo_klines)
    result = run_backtest(
        data,
        symbol=DEMO_SYMBOL if args.demo else args.symbol,
        interval=args.interval,
        start=args.start,
        end=args.end,
        strategy=strategy_class,
        cash=args.cash,
        commission=args.commission,
        slippage=args.slippage,
        seed=args.seed,
        base_url=args.base_url,
        data_dir=args.data_dir,
        offline=args.offline,
        out=args.out,
        force=args.force,
        quiet=args.quiet,
        cache=args.cache,
        **strategy_kwargs(args, strategy_class),
    )
    print(format_summary(result.report))
    if args.out:
        print(f"run directory: {args.out}  (re-draw plots: lstm-bt plot {args.out})")
    else:
        print("pass --out DIR to keep report.json, the CSVs and the plots")
    return 0


def _seed(text):
    """argparse type: a seed the backends accept, refused before any data is loaded."""
    from ..models.forecaster import MAX_SEED

    try:
        seed = int(text)
    except ValueError:
        seed = None
    if seed is None or not 0 <= seed <= MAX_SEED:
        raise argparse.ArgumentTypeError(
            f"expected an integer from 0 to {MAX_SEED}, got {text!r}")
    return seed


def _data_argument(args, demo_klines):
    """Pick the data source; exactly one of --demo, --csv, or Binance (--symbol ...)."""
    if args.demo and args.csv:
        raise InvalidParameter("--demo and --csv both given; pick one data source.")
    if args.demo:
        if args.symbol or args.interval:
            raise InvalidParameter("--demo makes its own hourly data; drop --symbol/--interval, "
                                   "or use --csv PATH or Binance instead of --demo.")
        return demo_klines()
    if args.csv:
        return args.csv
    missing = [flag for flag, value in (("--symbol", args.symbol), ("--interval", args.interval),
                                        ("--start", args.start)) if not value]
    if missing:
        raise InvalidParameter(
            f"no data source: give --symbol, --interval and --start (Binance; missing "
            f"{', '.join(missing)}), --csv PATH, or --demo."
        )
    return None


def format_summary(report):
    """The compact table printed after a run: strategy vs buy and hold, and forecast skill."""
    data, metrics, benchmark = report["data"], report["metrics"], report["benchmark"]
    forecast, timing = report["forecast"], report["timing"]
    lines = [
        f"{data['symbol']} {data['interval']}  {_when(data['start'])} to {_when(data['end'])} "
        f"UTC, end exclusive "
        f"({data['bars']} bars, {timing['retrains']} retrains, {_fmt(timing['total_s'], 1)} s, "
        f"forecast cache {timing.get('cache', 'off')})",
        f"{'':18}{'strategy':>12}{'buy & hold':>12}",
    ]
    for key, label, digits in _ROWS:
        lines.append(f"{label:18}{_fmt(metrics.get(key), digits):>12}"
                     f"{_fmt(benchmark.get(key), digits):>12}")
    lines.append(
        f"forecast: hit rate {_fmt(forecast.get('hit_rate'), 3)} over {forecast.get('n')} bars "
        f"(p = {_fmt_p(forecast.get('p_value'))}), repeat-last-move baseline "
        f"{_fmt(forecast.get('baseline_hit_rate'), 3)}, RMSE {_fmt(forecast.get('rmse'), 2)}"
    )
    return "\n".join(lines)


_ROWS = (
    ("total_return_pct", "total return %", 2),
    ("cagr_pct", "CAGR %", 2),
    ("sharpe", "Sharpe", 2),
    ("sortino", "Sortino", 2),
    ("max_drawdown_pct", "max drawdown %", 2),
    ("volatility_pct", "volatility %", 2),
    ("trades", "trades", 0),
    ("win_rate_pct", "win rate %", 1),
    ("exposure_pct", "exposure %", 1),
    ("final_value", "final value", 2),
)


def _when(iso):
    return iso.replace("T", " ")[:16]


def _fmt(value, digits):
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}"


def _fmt_p(p_value):
    # A fixed 3 decimals would print strong evidence as "0.000".
    if p_value is not None and 0 < p_value < 0.001:
        return f"{p_value:.1e}"
    return _fmt(p_value, 3)
