"""Performance metrics of one run: pure functions over per-bar returns and portfolio values.

Every function takes per-bar simple returns `r` (or portfolio values) and `bars_per_year` `P`,
the bars in a 365-day year for the interval (1h: 8760, 1d: 365): crypto trades 24/7, so never
252. The formulas are empyrical-reloaded's, and the tests hold them to it. A figure that is
undefined (too few bars, zero variance, no losing bar, no drawdown, no trades) is `None`, never
inf, NaN or a made-up number, so it reads as `null` in `report.json`.
"""

import math

import numpy as np

from ..errors import InvalidParameter

__all__ = [
    "METRIC_KEYS",
    "TRADE_STAT_KEYS",
    "simple_returns",
    "per_bar_rate",
    "sharpe_ratio",
    "sortino_ratio",
    "volatility_pct",
    "max_drawdown",
    "cagr_pct",
    "calmar_ratio",
    "var_95_pct",
    "cvar_95_pct",
    "trade_stats",
    "monthly_returns",
    "compute_metrics",
]

METRIC_KEYS = (
    "total_return_pct",
    "cagr_pct",
    "sharpe",
    "sortino",
    "max_drawdown_pct",
    "max_drawdown_bars",
    "calmar",
    "volatility_pct",
    "var_95_pct",
    "cvar_95_pct",
    "trades",
    "win_rate_pct",
    "exposure_pct",
    "final_value",
    "fees",
    "fees_pct",
    "gross_pnl",
    "net_pnl",
    "profit_factor",
    "avg_trade_pct",
    "best_trade_pct",
    "worst_trade_pct",
    "avg_bars_held",
)
TRADE_STAT_KEYS = ("profit_factor", "avg_trade_pct", "best_trade_pct", "worst_trade_pct",
                   "avg_bars_held")

_TAIL = 0.05
# Returns recovered from portfolio values (W_t / W_(t-1) - 1) carry rounding noise of about
# 1e-16. Dispersion below this is that noise, not risk: dividing by it would print a ratio
# of 1e15, so it counts as zero and the ratio as undefined.
_ROUNDING = 1e-12


def simple_returns(values, start_value):
    """Per-bar simple returns of a value series, the first measured against `start_value`.

    Args:
        values: portfolio value at the close of each measured bar.
        start_value: the value before the first measured bar (starting cash); must be positive.

    Returns:
        A float array as long as `values`.
    """
    start_value = _positive_value(start_value)
    values = np.asarray(values, dtype=float)
    previous = np.concatenate(([start_value], values[:-1]))
    return values / previous - 1.0


def per_bar_rate(annual_rate, bars_per_year):
    """Turn a yearly rate (0.04 = 4 %) into the per-bar rate that compounds to it."""
    return (1.0 + annual_rate) ** (1.0 / _bars_per_year(bars_per_year)) - 1.0


def sharpe_ratio(returns, bars_per_year, risk_free=0.0):
    """Annualized Sharpe ratio: mean(r - rf) / std(r - rf, ddof=1) * sqrt(P).

    Args:
        returns: per-bar simple returns.
        bars_per_year: bars in a 365-day year for the interval.
        risk_free: yearly risk-free rate, converted per bar with `per_bar_rate`.
            Defaults to `0.0`.

    Returns:
        The ratio, or None with fewer than two returns or zero variance (up to rounding).
    """
    excess = _returns(returns) - per_bar_rate(risk_free, bars_per_year)
    std = _sample_std(excess)
    if not std:
        return None
    return _finite(excess.mean() / std * math.sqrt(bars_per_year))


def sortino_ratio(returns, bars_per_year, risk_free=0.0):
    """Annualized Sortino ratio: mean(r) * sqrt(P) / sqrt(mean(min(r, 0)^2)).

    The downside mean is taken over all bars, as empyrical does. A non-zero `risk_free`
    is subtracted from every return first (empyrical's `required_return`).

    Args:
        returns: per-bar simple returns.
        bars_per_year: bars in a 365-day year for the interval.
        risk_free: yearly rate, converted per bar. Defaults to `0.0`.

    Returns:
        The ratio, or None with fewer than two returns or no bar below the threshold.
    """
    excess = _returns(returns) - per_bar_rate(risk_free, bars_per_year)
    if len(excess) < 2:
        return None
    downside = math.sqrt(np.mean(np.minimum(excess, 0.0) ** 2))
    if downside < _ROUNDING:
        return None
    return _finite(excess.mean() * math.sqrt(bars_per_year) / downside)


def volatility_pct(returns, bars_per_year):
    """Annualized volatility in percent: 100 * std(r, ddof=1) * sqrt(P); None below two bars."""
    std = _sample_std(_returns(returns))
    return None if std is None else 100.0 * std * math.sqrt(_bars_per_year(bars_per_year))


def max_drawdown(values, start_value):
    """Deepest fall from a running peak, and the longest time spent below a peak.

    The peak starts at `start_value` (W_0), so a loss on the first bar is a drawdown.

    Args:
        values: portfolio value at the close of each measured bar.
        start_value: the value before the first bar; must be positive.

    Returns:
        `(max_drawdown_pct, max_drawdown_bars)`: 100 * max_t (1 - W_t / max_{s<=t} W_s), and
        the most consecutive bars below a previous peak (backtrader's `DrawDown` `max.len`).
        `(None, None)` for no bars.
    """
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return None, None
    path = np.concatenate(([_positive_value(start_value)], values))
    peaks = np.maximum.accumulate(path)
    depth = 1.0 - path / peaks
    longest = current = 0
    for below in depth[1:] > 0:
        current = current + 1 if below else 0
        longest = max(longest, current)
    return 100.0 * float(depth.max()), longest


def cagr_pct(final_value, start_value, bars, bars_per_year):
    """Compound annual growth in percent: 100 * ((W_n / W_0)^(P/n) - 1).

    Returns:
        The rate, or None for no bars, a non-positive final value (no real root) or a rate too
        large to represent (a few bars annualized to a year of 1-second bars).
    """
    if bars < 1 or final_value <= 0:
        return None
    growth = float(final_value) / _positive_value(start_value)
    try:
        return _finite(100.0 * (growth ** (_bars_per_year(bars_per_year) / bars) - 1.0))
    except OverflowError:
        return None


def calmar_ratio(cagr, max_drawdown_pct):
    """CAGR over max drawdown, both as fractions (the percent scales cancel).

    Returns:
        The ratio, or None when either is undefined or there was no drawdown.
    """
    if cagr is None or not max_drawdown_pct:
        return None
    return _finite(cagr / max_drawdown_pct)


def var_95_pct(returns):
    """Historical 95 % value at risk per bar, in percent: the 5th percentile of r (linear).

    Negative for a loss; None for no returns.
    """
    returns = _returns(returns)
    return None if len(returns) == 0 else 100.0 * float(np.percentile(returns, 100 * _TAIL))


def cvar_95_pct(returns):
    """95 % conditional value at risk per bar, in percent: the mean of the worst returns.

    The tail holds the int((n - 1) * 0.05) + 1 smallest returns, as in empyrical.
    Negative for a loss; None for no returns.
    """
    returns = _returns(returns)
    if len(returns) == 0:
        return None
    cut = int((len(returns) - 1) * _TAIL)
    return 100.0 * float(np.partition(returns, cut)[: cut + 1].mean())


def trade_stats(pnl_net, entry_value=None, bars_held=None):
    """Profit factor and per-trade figures of closed trades.

    Args:
        pnl_net: profit of each closed trade after commission, in quote currency.
        entry_value: the capital each trade used (the most it held at cost at once),
            aligned with `pnl_net`.
            Defaults to `None` (unknown: the trade percentages are None).
        bars_held: bars from each trade's open to its close. Defaults to `None` (unknown).

    Returns:
        A dict with `TRADE_STAT_KEYS`: `profit_factor` (sum of winning net profits / |sum of
        losing net profits|; None with no losing trade), `avg_trade_pct`, `best_trade_pct`,
        `worst_trade_pct` (mean, max, min of 100 * pnl_net / entry_value) and `avg_bars_held`.
        Everything is None with no trades.

    Example:
        >>> trade_stats([30.0, -10.0, -5.0], [1000.0, 1000.0, 500.0], [3, 1, 2])["profit_factor"]
        2.0
    """
    pnls = np.asarray(pnl_net, dtype=float)
    losses = -pnls[pnls < 0].sum()
    percent = None
    if entry_value is not None and len(pnls):
        entry = np.asarray(entry_value, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            percent = 100.0 * pnls / entry
        percent = percent[np.isfinite(percent)]
    held = np.asarray([] if bars_held is None else bars_held, dtype=float)
    return {
        "profit_factor": _finite(pnls[pnls > 0].sum() / losses) if losses > 0 else None,
        "avg_trade_pct": float(percent.mean()) if percent is not None and len(percent) else None,
        "best_trade_pct": float(percent.max()) if percent is not None and len(percent) else None,
        "worst_trade_pct": float(percent.min()) if percent is not None and len(percent) else None,
        "avg_bars_held": float(held.mean()) if len(held) else None,
    }


def monthly_returns(datetimes, values, start_value):
    """Calendar-month returns of a value series, in percent.

    A month's return is its last value over the previous month's last value, minus one; the
    first month is measured against `start_value` (W_0), as the first bar is.

    Args:
        datetimes: datetime of each bar (UTC), ascending.
        values: portfolio value at each bar's close; several curves as a 2-D array (one
            column each) or a DataFrame.
        start_value: the value before the first bar, one for all curves; positive.

    Returns:
        A DataFrame with `year`, `month` and one column of percent returns per curve (a
        DataFrame's column names, else `return_pct`, `return_pct_1`, ...). Empty for no bars.
    """
    import pandas as pd

    start_value = _positive_value(start_value)
    index = pd.DatetimeIndex(datetimes)
    frame = pd.DataFrame(values, index=index)
    if not isinstance(values, pd.DataFrame):
        frame.columns = ["return_pct"] + [f"return_pct_{i}" for i in range(1, frame.shape[1])]
    months = frame.groupby([index.year, index.month]).last()
    previous = months.shift(1)
    previous.iloc[:1] = start_value
    table = 100.0 * (months / previous - 1.0)
    table.index.names = ["year", "month"]
    return table.reset_index()


def compute_metrics(values, start_value, bars_per_year, *, trades=(), exposure=None,
                    risk_free=0.0, fees=None, trade_entry_values=None, trade_bars_held=None):
    """Every DESIGN metric of one equity curve, keyed as in `report.json`.

    Args:
        values: portfolio value at the close of each measured bar (from `--start`).
        start_value: the value before the first measured bar (starting cash); positive.
        bars_per_year: bars in a 365-day year for the interval (1h: 8760, 1d: 365).
        trades: net profit (after commission) of each closed trade. Defaults to none.
        exposure: per bar, whether a position was open (bools). Defaults to `None`
            (unknown: `exposure_pct` is None, as it is for no bars).
        risk_free: yearly risk-free rate for Sharpe and Sortino. Defaults to `0.0`.
        fees: commission paid over the measured bars, in quote currency. Defaults to `None`
            (unknown: `fees`, `fees_pct` and `gross_pnl` are None).
        trade_entry_values: what each closed trade put in (size * entry price), aligned with
            `trades`. Defaults to `None` (the trade percentages are None).
        trade_bars_held: bars each closed trade was held. Defaults to `None`.

    Returns:
        A dict with exactly `METRIC_KEYS`; undefined figures are None. `net_pnl` is
        W_n - W_0 (open positions at their last close, after fees) and `gross_pnl` is
        `net_pnl + fees`; the trade figures are `trade_stats`'s.

    Example:
        >>> m = compute_metrics([101.0, 99.0, 103.0], 100.0, 365)
        >>> round(m["total_return_pct"], 6), m["max_drawdown_bars"], m["trades"]
        (3.0, 1, 0)
    """
    values = np.asarray(values, dtype=float)
    returns = simple_returns(values, start_value)
    bars = len(values)
    final = float(values[-1]) if bars else float(start_value)
    drawdown_pct, drawdown_bars = max_drawdown(values, start_value)
    cagr = cagr_pct(final, start_value, bars, bars_per_year)
    pnls = np.asarray(trades, dtype=float)
    exposed = np.asarray([] if exposure is None else exposure, dtype=bool)
    net_pnl = final - start_value if bars else None
    fees = None if fees is None else float(fees)
    return {
        "total_return_pct": 100.0 * (final / start_value - 1.0) if bars else None,
        "cagr_pct": cagr,
        "sharpe": sharpe_ratio(returns, bars_per_year, risk_free),
        "sortino": sortino_ratio(returns, bars_per_year, risk_free),
        "max_drawdown_pct": drawdown_pct,
        "max_drawdown_bars": drawdown_bars,
        "calmar": calmar_ratio(None if cagr is None else cagr / 100.0,
                               None if drawdown_pct is None else drawdown_pct / 100.0),
        "volatility_pct": volatility_pct(returns, bars_per_year),
        "var_95_pct": var_95_pct(returns),
        "cvar_95_pct": cvar_95_pct(returns),
        "trades": len(pnls),
        "win_rate_pct": 100.0 * float(np.mean(pnls > 0)) if len(pnls) else None,
        "exposure_pct": 100.0 * float(exposed.mean()) if len(exposed) else None,
        "final_value": final,
        "fees": fees,
        "fees_pct": None if fees is None else 100.0 * fees / start_value,
        "gross_pnl": None if fees is None or net_pnl is None else net_pnl + fees,
        "net_pnl": net_pnl,
        **trade_stats(pnls, trade_entry_values, trade_bars_held),
    }


def _returns(returns):
    return np.asarray(returns, dtype=float)


def _sample_std(returns):
    """std(ddof=1), exactly 0 for values equal up to rounding (see `_ROUNDING`)."""
    if len(returns) < 2:
        return None
    if returns.max() - returns.min() < _ROUNDING:
        return 0.0
    return float(np.std(returns, ddof=1))


def _finite(value):
    value = float(value)
    return value if math.isfinite(value) else None


def _positive_value(value):
    if not value > 0:
        raise InvalidParameter(
            f"Received an invalid value for `start_value`, expected the positive portfolio "
            f"value before the first bar (starting cash), got {value!r}."
        )
    return float(value)


def _bars_per_year(value):
    if value is None or not value > 0:
        raise InvalidParameter(
            f"Received an invalid value for `bars_per_year`, expected a positive number "
            f"(1h: 8760, 1d: 365), got {value!r}; pass it explicitly for tick data."
        )
    return float(value)
