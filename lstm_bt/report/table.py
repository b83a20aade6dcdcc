"""A report as a trader reads it: labelled rows with units, formatted numbers, plain verdicts.

The printed summary (`lstm-bt backtest`), `result.stats` and the metrics table of report.html
all come from here, so the three say the same thing in the same words.
"""

import math
from datetime import datetime, timedelta

from .. import stats
from ..data.intervals import get_interval
from ..errors import InvalidParameter
from .chart_data import period_text

__all__ = [
    "METRIC_ROWS",
    "SHORT_WINDOW_DAYS",
    "stats_series",
    "metric_cells",
    "duration_text",
    "run_description",
    "format_number",
    "format_p_value",
    "window_days",
    "short_window_warning",
    "naive_rule_verdict",
    "zero_trade_reason",
    "resolved_threshold",
    "monthly_returns_frame",
    "start_value",
]

# (report key, label with its unit, decimals, annualized). Order is the summary's.
METRIC_ROWS = (
    ("total_return_pct", "Return [%]", 2, False),
    ("cagr_pct", "CAGR [%]", 2, True),
    ("sharpe", "Sharpe", 2, True),
    ("sortino", "Sortino", 2, True),
    ("calmar", "Calmar", 2, True),
    ("max_drawdown_pct", "Max. drawdown [%]", 2, False),
    ("max_drawdown_bars", "Longest drawdown [bars]", 0, False),
    ("volatility_pct", "Volatility [% a year]", 2, True),
    ("var_95_pct", "VaR 95 [% a bar]", 3, False),
    ("cvar_95_pct", "CVaR 95 [% a bar]", 3, False),
    ("net_pnl", "Net P&L [quote]", 2, False),
    ("gross_pnl", "Gross P&L [quote]", 2, False),
    ("fees", "Fees [quote]", 2, False),
    ("fees_pct", "Fees [% of cash]", 2, False),
    ("trades", "Trades", 0, False),
    ("win_rate_pct", "Win rate [%]", 1, False),
    ("profit_factor", "Profit factor", 2, False),
    ("avg_trade_pct", "Avg. trade [%]", 2, False),
    ("best_trade_pct", "Best trade [%]", 2, False),
    ("worst_trade_pct", "Worst trade [%]", 2, False),
    ("avg_bars_held", "Avg. bars held", 1, False),
    ("exposure_pct", "Exposure [%]", 1, False),
    ("final_value", "Final value [quote]", 2, False),
)
FORECAST_ROWS = (
    ("n", "Forecast bars scored", 0),
    ("hit_rate", "Hit rate", 3),
    ("p_value", "Hit rate p-value", 3),
    ("baseline_hit_rate", "Repeat-last-move hit rate", 3),
    ("reversal_hit_rate", "Reverse-last-move hit rate", 3),
    ("best_naive_hit_rate", "Best naive hit rate", 3),
    ("ic", "IC (rank)", 3),
    ("rmse", "RMSE [price]", 2),
    ("mae", "MAE [price]", 2),
)
# The longest drawdown is also given as a time: this row follows the one in bars.
_DRAWDOWN_TIME_LABEL = "Longest drawdown [time]"
_DURATION_UNITS = (("d", 86_400_000), ("h", 3_600_000), ("min", 60_000), ("s", 1_000))
# Annualizing a few weeks multiplies their noise by a large power: below this, say so.
SHORT_WINDOW_DAYS = 90


def stats_series(report):
    """The report as one labelled `pandas.Series`, like backtesting.py's `Backtest.run()`.

    Keys carry their units (`"Return [%]"`, `"Fees [quote]"`); buy and hold's figures follow
    with a `"Buy & hold "` prefix, then the forecast's. Undefined figures are None.
    """
    import pandas as pd

    data = report.get("data", {})
    rows = {"Start": _timestamp(data.get("start")), "End (exclusive)": _timestamp(data.get("end")),
            "Bars": data.get("bars")}
    interval = data.get("interval")
    for prefix, section in (("", report["metrics"]), ("Buy & hold ", report["benchmark"])):
        for key, label, _, _ in METRIC_ROWS:
            rows[prefix + label] = section.get(key)
        rows[prefix + _DRAWDOWN_TIME_LABEL] = _duration(section.get("max_drawdown_bars"),
                                                        interval)
    rows.update({label: report["forecast"].get(key) for key, label, _ in FORECAST_ROWS})
    rule, _ = stats.best_naive_rule(report["forecast"])
    rows["Best naive rule"] = rule
    return pd.Series(rows, dtype=object, name=_name(report))


def metric_cells(report):
    """The metrics table as text, one `(label, strategy, buy and hold, annualized)` tuple a
    row in `METRIC_ROWS` order, the longest drawdown also as a time (`duration_text`)."""
    metrics, hold = report.get("metrics", {}), report.get("benchmark", {})
    interval = report.get("data", {}).get("interval")
    for key, label, digits, annualized in METRIC_ROWS:
        yield (label, format_number(metrics.get(key), digits),
               format_number(hold.get(key), digits), annualized)
        if key == "max_drawdown_bars":
            yield (_DRAWDOWN_TIME_LABEL, duration_text(metrics.get(key), interval),
                   duration_text(hold.get(key), interval), False)


def duration_text(bars, interval):
    """`bars` bars of `interval` as a time: `"13 d 0 h"` for 312 1h bars, `"312 d"` for 1d.

    Days first, down to the largest unit the bar length is a whole number of (15m bars:
    `"1 d 2 h 15 min"`); leading zero units are left out. `"n/a"` where undefined (no
    figure, or `"1M"` bars, whose length varies).
    """
    step_ms = _step_ms(interval)
    if bars is None or step_ms is None:
        return "n/a"
    smallest = next(ms for _, ms in _DURATION_UNITS if step_ms % ms == 0)
    left, parts = int(bars) * step_ms, []
    for name, ms in _DURATION_UNITS:
        if ms < smallest:
            break
        count, left = divmod(left, ms)
        if count or parts or ms == smallest:
            parts.append(f"{count} {name}")
    return " ".join(parts)


def run_description(report):
    """What was run, as `(name, value)` text pairs: the data's source, market and period,
    then every param of `report["params"]` (strategy, model, trading, broker, seed)."""
    data, params = report.get("data", {}), report.get("params", {})
    source = data.get("source")
    where = {"file": f"file {data.get('path')}",
             "binance": f"Binance REST {data.get('base_url')} (kline store)",
             "frame": "a kline frame passed in Python"}.get(source, "not recorded")
    rows = [("data source", where),
            ("market", " ".join(str(data[key]) for key in ("symbol", "interval")
                                if data.get(key)) or "n/a"),
            ("period", period_text(report) if data.get("start") else "n/a"), ("bars", format_number(data.get("bars"), 0))]
    rows += [(name, _param_text(value)) for name, value in params.items()]
    return rows


def format_number(value, digits):
    """`15` for a count, `1,234.57` for money, `n/a` for an undefined figure."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:,.{digits}f}"


def format_p_value(p_value):
    """`0.031`, or `< 0.001` where three decimals would print strong evidence as 0.000."""
    if p_value is not None and p_value < 0.001:
        return "< 0.001"
    return format_number(p_value, 3)


def window_days(report):
    """Days from the report's start to its (exclusive) end; None when either is unknown."""
    data = report.get("data", {})
    try:
        start, end = (datetime.fromisoformat(data[key]) for key in ("start", "end"))
    except (KeyError, TypeError, ValueError):
        return None
    return (end - start).total_seconds() / 86_400


def short_window_warning(report):
    """A warning line when annualized figures rest on under `SHORT_WINDOW_DAYS` days."""
    days = window_days(report)
    if days is None or days >= SHORT_WINDOW_DAYS:
        return None
    return (f"* annualized from {days:.3g} days: under {SHORT_WINDOW_DAYS} days, CAGR, Sharpe, "
            "Sortino, Calmar and volatility mostly measure luck")


def naive_rule_verdict(forecast):
    """One sentence comparing the model's hit rate with the better naive rule's."""
    rule, beats = stats.best_naive_rule(forecast)
    if rule is None:
        return "no naive rule could be scored (too few moves)"
    best = forecast["best_naive_hit_rate"]
    if beats:
        return (f'the naive rule "{rule}" ({best:.3f}) beats the model '
                f"({forecast['hit_rate']:.3f}): a rule without a model calls the next move "
                "more often")
    return f'the model beats the better naive rule, "{rule}" ({best:.3f})'


def resolved_threshold(params):
    """The strategy's threshold as a number: `"cost"` is 2 x (commission + slippage)."""
    threshold = params.get("threshold")
    if threshold == "cost":
        return 2 * (params.get("commission", 0.0) + params.get("slippage", 0.0))
    return threshold


def zero_trade_reason(report, forecasts=None):
    """Why a run closed no trade, in one line; None when it traded.

    Args:
        report: the `report.json` dict.
        forecasts: the forecasts frame (`close`, `predicted_close`), to find the largest
            predicted move. Defaults to `None` (the reason then leaves the forecasts out).
    """
    metrics, params = report.get("metrics", {}), report.get("params", {})
    if metrics.get("trades"):
        return None
    if metrics.get("exposure_pct"):
        still_open = report.get("open_trades") or []
        if not still_open:
            return "no closed trade: the position opened is still open at the end"
        trade = still_open[0]
        return (f"no closed trade: the {trade['side']} opened "
                f"{str(trade['open_datetime']).replace('T', ' ')[:16]} is still open at the "
                f"end (net P&L so far {format_number(trade['pnl_net'], 2)})")
    threshold = resolved_threshold(params)
    if forecasts is None or not len(forecasts) or not isinstance(threshold, (int, float)):
        return "no trade: no forecast crossed the threshold"
    move = (forecasts["predicted_close"] / forecasts["close"] - 1.0).dropna()
    if not len(move):
        return "no trade: no bar had a forecast"
    largest = move.abs().max() if params.get("allow_short") else move.max()
    if largest > threshold:
        return (f"no trade although the largest predicted move {largest:.4g} > threshold "
                f"{threshold:.4g}: the sizing bought nothing (check cash, stake, fraction)")
    return (f"no trade: largest predicted move {largest:.4g} <= threshold {threshold:.4g} "
            "(fractions of the close)")


def monthly_returns_frame(equity, start_value):
    """monthly_returns.csv: `year`, `month`, `strategy_pct` and (when the equity frame has a
    `benchmark` column) `buy_and_hold_pct`: each calendar month's return in percent, the first
    measured against `start_value` (see `lstm_bt.stats.monthly_returns`).

    Args:
        equity: the equity frame, indexed by datetime (equity.csv).
        start_value: W_0, the value before the first bar (the starting cash).
    """
    import pandas as pd

    curves = pd.DataFrame({"strategy_pct": equity["value"]}, index=equity.index)
    if "benchmark" in equity:
        curves["buy_and_hold_pct"] = equity["benchmark"]
    return stats.monthly_returns(curves.index, curves, start_value)


def start_value(report, equity):
    """W_0 of a run: the report's starting cash, else the first value of the curve."""
    cash = report.get("params", {}).get("cash")
    return float(cash) if cash else float(equity["value"].iloc[0])


def _duration(bars, interval):
    """`bars` bars of `interval` as a `datetime.timedelta`; None where undefined."""
    step_ms = _step_ms(interval)
    return None if bars is None or step_ms is None else timedelta(milliseconds=bars * step_ms)


def _step_ms(interval):
    """The bar length of `interval` in ms; None for an unknown interval or `"1M"`."""
    try:
        return get_interval(interval).ms if interval else None
    except InvalidParameter:
        return None


def _param_text(value):
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value)) or "none"
    return "none" if value is None else str(value)


def _timestamp(text):
    return None if text is None else datetime.fromisoformat(text)


def _name(report):
    data = report.get("data", {})
    return " ".join(str(data[key]) for key in ("symbol", "interval") if data.get(key)) or None
