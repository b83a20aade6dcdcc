"""`lstm-bt backtest`: a walk-forward LSTM backtest from Binance, a kline file or demo data.

A thin layer over `lstm_bt.run.runner.run_backtest`: it turns flags into arguments, prints a
compact summary, and leaves the run directory to the runner.
"""

import argparse
import json
import os
import sys
from pathlib import Path

from ..errors import InvalidParameter
from ..report.table import (format_number, format_p_value, metric_cells, naive_rule_verdict,
                            short_window_warning, zero_trade_reason)
from ..run.run_params import BROKER_PARAMS, RUN_PARAMS
from ..strategies import LSTMStrategy
from .strategy_flags import add_strategy_flags, finite_float, load_strategy_class, strategy_kwargs
from . import SUBCOMMANDS

__all__ = ["add_parser", "run", "format_summary", "add_broker_and_seed_flags", "fill_run_flags",
           "read_report", "report_params"]

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
  lstm-bt backtest --from runs/demo/report.json --threshold 0.004 --out runs/demo-t4
"""


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "backtest",
        help=SUBCOMMANDS["backtest"],
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
    data.add_argument("--data-dir", help="kline store, forecast cache and (JAX) compiled "
                      "programs (default: $LSTM_BT_DATA_DIR or ./feeds)")
    data.add_argument("--offline", action="store_true",
                      help="read Binance bars from the kline store only, never the network "
                           "(fill it first with lstm-bt fetch)")

    add_strategy_flags(parser, LSTMStrategy)

    run_group = add_broker_and_seed_flags(parser)
    run_group.add_argument("--from", dest="from_report", metavar="REPORT_JSON",
                           help="re-run the data and params of a run's report.json; flags "
                                "given here override them")
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
    result = _run_backtest(args)
    print(format_summary(result.report, result.forecasts))
    if args.out:
        print(f"run directory: {args.out}  (re-draw plots: lstm-bt plot {args.out})")
    else:
        print("pass --out DIR to keep report.json, the CSVs and the plots")
    return 0


def _run_backtest(args):
    from .. import cli
    from ..models.compile_cache import compile_cache_environment
    from ..run.runner import DEMO_SYMBOL, demo_klines, run_backtest

    if cli.owns_process and "jax" not in sys.modules:  # JAX reads them on import
        os.environ.update(compile_cache_environment(args.data_dir))

    strategy_class = LSTMStrategy
    if args.strategy_path:
        strategy_class = load_strategy_class(args.strategy_path, LSTMStrategy)
    params = _apply_report(args, DEMO_SYMBOL, strategy_class)
    data = _data_argument(args, demo_klines)
    return run_backtest(
        data,
        symbol=DEMO_SYMBOL if args.demo else args.symbol,
        interval=args.interval,
        start=args.start,
        end=args.end,
        strategy=strategy_class,
        **{name: getattr(args, name) for name in RUN_PARAMS},
        base_url=args.base_url,
        data_dir=args.data_dir,
        offline=args.offline,
        out=args.out,
        force=args.force,
        quiet=args.quiet,
        cache=args.cache,
        **params,
    )


def add_broker_and_seed_flags(parser):
    """Add a flag per broker and run param (`run.run_params.RUN_PARAMS`) to `parser`; returns
    the "run" group that holds `--seed`, for the command's other run flags."""
    broker = parser.add_argument_group("broker")
    run_group = parser.add_argument_group("run")
    for param in RUN_PARAMS.values():
        group = broker if param.name in BROKER_PARAMS else run_group
        # Not given: None, so that `--from` can tell a flag left out from one given.
        group.add_argument(f"--{param.name}", type=_run_flag_type(param), default=None,
                           metavar=param.metavar, help=f"{param.help} (default: {param.default:g})")
    return run_group


def fill_run_flags(args, values=None):
    """Set the broker and run flags left out: from `values` (a report's params) where it has
    them, else their defaults."""
    for name, param in RUN_PARAMS.items():
        if getattr(args, name) is None:
            setattr(args, name, (values or {}).get(name, param.default))


def _run_flag_type(param):
    """argparse type of a broker or run flag: a finite number the param accepts, checked
    here, before any data is loaded."""
    def parse(text):
        try:
            if isinstance(param.default, float):
                return param.check(finite_float(text))
            return param.check(int(text))
        except (ValueError, InvalidParameter):
            raise argparse.ArgumentTypeError(f"expected {param.expected}, got {text!r}") from None

    return parse


def _apply_report(args, demo_symbol, strategy_class):
    """The strategy params to run with: the flags given, over the params of `--from
    REPORT_JSON` when given (whose data and broker values also fill the flags left out)."""
    given = strategy_kwargs(args, strategy_class)
    if not args.from_report:
        fill_run_flags(args)
        return given
    data, params = read_report(args.from_report)
    if not (args.demo or args.csv or args.symbol):
        _recorded_source(args, data, demo_symbol)
    args.start = args.start or data.get("start")
    args.end = args.end or data.get("end")
    return report_params(args, params, given)


def _recorded_source(args, data, demo_symbol):
    """Point the data flags at the source a report's `data` recorded: the same kline file
    (by the absolute path recorded), the demo data, or Binance with the same symbol, interval
    and REST root. A report without `source` (written before it was recorded) is the demo's
    when its symbol is, else Binance's."""
    source, symbol = data.get("source"), data.get("symbol")
    if source == "file":
        path = data.get("path")
        if not isinstance(path, str) or not Path(path).is_file():
            raise InvalidParameter(
                f"--from {args.from_report}: the run read the kline file {path}, which is not "
                f"there now; give --csv PATH where the file is now (or --symbol/--interval for "
                f"Binance, or --demo).")
        args.csv, args.symbol = path, symbol
    elif source in ("frame", None) and symbol == demo_symbol:
        args.demo = True
        return
    elif source == "frame":
        raise InvalidParameter(
            f"--from {args.from_report}: the run read a kline frame passed from Python, which "
            f"the command cannot read again; give --csv PATH, --symbol/--interval, or --demo.")
    else:
        args.symbol = symbol
        if source == "binance":
            args.base_url = args.base_url or data.get("base_url")
    args.interval = args.interval or data.get("interval")


def read_report(path):
    """`(data, params)` of a run's report.json; `InvalidParameter` when it is not one."""
    try:
        report = json.loads(Path(path).read_text(encoding="utf-8"))
        return dict(report["data"]), dict(report["params"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise InvalidParameter(
            f"--from {path}: not a readable report.json with `data` and `params` "
            f"({error}); pass the report.json of a run directory."
        ) from None


def report_params(args, params, given):
    """The strategy params of a report's `params` with the flags `given` over them; the
    broker and run flags left out take the report's values (in `args`).

    Raises:
        InvalidParameter: the report ran another strategy than `--strategy-path` loads.
    """
    if params.get("strategy", "LSTMStrategy") != "LSTMStrategy" and not args.strategy_path:
        raise InvalidParameter(
            f"--from {args.from_report} ran {params['strategy']}; pass --strategy-path "
            f"FILE:{params['strategy']} to run it again."
        )
    fill_run_flags(args, params)
    skip = {"strategy", *RUN_PARAMS}
    reported = {name: tuple(value) if isinstance(value, list) else value
                for name, value in params.items() if name not in skip}
    return {**reported, **given}


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


def format_summary(report, forecasts=None):
    """The table printed after a run: strategy vs buy and hold, forecast skill, and plain
    warnings (short window, a naive rule beating the model, why nothing traded).

    Args:
        report: the `report.json` dict.
        forecasts: the forecasts frame, to say why a run made no trade. Defaults to `None`.
    """
    data, forecast, timing = report["data"], report["forecast"], report["timing"]
    warning = short_window_warning(report)
    cells = list(metric_cells(report))
    # Columns of 14, wider where a value is (a large --cash): two columns never run together.
    width = max([14, *(len(cell) + 2 for row in cells for cell in row[1:3])])
    lines = [
        f"{data['symbol']} {data['interval']}  {_when(data['start'])} to {_when(data['end'])} "
        f"UTC, end exclusive "
        f"({data['bars']:,} bars, {timing['retrains']} retrains, "
        f"{format_number(timing['total_s'], 1)} s, forecast cache {timing.get('cache', 'off')})",
        f"{'':26}{'strategy':>{width}}{'buy & hold':>{width}}",
    ]
    for label, ours, hold, annualized in cells:
        label = f"{label} *" if annualized and warning else label
        lines.append(f"{label:26}{ours:>{width}}{hold:>{width}}")
    if warning:
        lines.append(warning)
    reason = zero_trade_reason(report, forecasts)
    if reason:
        lines.append(reason)
    lines.append(
        f"forecast: hit rate {format_number(forecast.get('hit_rate'), 3)} over "
        f"{format_number(forecast.get('n'), 0)} bars (p {_p_text(forecast.get('p_value'))}), "
        f"naive rules: repeat last move {format_number(forecast.get('baseline_hit_rate'), 3)}, "
        f"reverse last move {format_number(forecast.get('reversal_hit_rate'), 3)}; "
        f"IC {format_number(forecast.get('ic'), 3)}, RMSE {format_number(forecast.get('rmse'), 2)}"
    )
    if forecast.get("n"):
        lines.append(f"forecast: {naive_rule_verdict(forecast)}")
    return "\n".join(lines)


def _when(iso):
    return iso.replace("T", " ")[:16]


def _p_text(p_value):
    shown = format_p_value(p_value)
    return shown if shown.startswith("<") else f"= {shown}"
