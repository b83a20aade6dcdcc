"""Performance metrics of one run: pure functions over per-bar returns and portfolio values.

`P` (`bars_per_year`) counts bars in a 365-day year (1h: 8760): crypto trades 24/7. The
formulas are empyrical's. An undefined figure is `None`, never inf or NaN.
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
# Returns recovered from portfolio values carry rounding noise; dispersion below this is zero.
_ROUNDING = 1e-12


def simple_returns(values, start_value):
    """Per-bar simple returns of `values`, the first against `start_value` (W_0, positive)."""
    start_value = _positive_value(start_value)
    values = np.asarray(values, dtype=float)
    previous = np.concatenate(([start_value], values[:-1]))
    return values / previous - 1.0


def per_bar_rate(annual_rate, bars_per_year):
    """Turn a yearly rate (0.04 = 4 %) into the per-bar rate that compounds to it."""
    return (1.0 + annual_rate) ** (1.0 / _bars_per_year(bars_per_year)) - 1.0


def sharpe_ratio(returns, bars_per_year, risk_free=0.0):
    """Annualized Sharpe ratio: mean(r - rf) / std(r - rf, ddof=1) * sqrt(P).

    `risk_free` is a yearly rate, converted with `per_bar_rate`. None with fewer than two
    returns or zero variance.
    """
    excess = _returns(returns) - per_bar_rate(risk_free, bars_per_year)
    std = _sample_std(excess)
    if not std:
        return None
    return _finite(excess.mean() / std * math.sqrt(bars_per_year))


def sortino_ratio(returns, bars_per_year, risk_free=0.0):
    """Annualized Sortino ratio: mean(r) * sqrt(P) / sqrt(mean(min(r, 0)^2)) over all bars.

    `risk_free` (yearly, converted per bar) is subtracted from every return first. None with
    fewer than two returns or no bar below it.
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
    """`(max_drawdown_pct, max_drawdown_bars)`: 100 * max_t (1 - W_t / max_{s<=t} W_s), and
    the most consecutive bars below a previous peak; `(None, None)` for no bars.

    The peak starts at `start_value` (W_0), so a loss on the first bar is a drawdown.
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
    """Compound annual growth in percent: 100 * ((W_n / W_0)^(P/n) - 1); None for no bars, a
    non-positive final value or a rate too large to represent."""
    if bars < 1 or final_value <= 0:
        return None
    growth = float(final_value) / _positive_value(start_value)
    try:
        return _finite(100.0 * (growth ** (_bars_per_year(bars_per_year) / bars) - 1.0))
    except OverflowError:
        return None


def calmar_ratio(cagr, max_drawdown_pct):
    """CAGR over max drawdown; None when either is undefined or there was no drawdown."""
    if cagr is None or not max_drawdown_pct:
        return None
    return _finite(cagr / max_drawdown_pct)


def var_95_pct(returns):
    """Historical 95 % value at risk per bar, in percent: the 5th percentile of r."""
    returns = _returns(returns)
    return None if len(returns) == 0 else 100.0 * float(np.percentile(returns, 100 * _TAIL))


def cvar_95_pct(returns):
    """95 % conditional value at risk per bar, in percent: the mean of the
    int((n - 1) * 0.05) + 1 smallest returns."""
    returns = _returns(returns)
    if len(returns) == 0:
        return None
    cut = int((len(returns) - 1) * _TAIL)
    return 100.0 * float(np.partition(returns, cut)[: cut + 1].mean())


def trade_stats(pnl_net, entry_value=None, bars_held=None):
    """Profit factor and per-trade figures of closed trades, a dict with `TRADE_STAT_KEYS`.

    `profit_factor` is the sum of wins over |sum of losses|; the trade percents are
    100 * pnl_net / entry_value.

    Args:
        pnl_net: profit of each closed trade after commission.
        entry_value: the capital each trade used. Defaults to `None`: percents are None.
        bars_held: bars each trade was held. Defaults to `None`.

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
    """Calendar-month returns in percent, the first month against `start_value` (W_0).

    Args:
        datetimes: each bar's datetime (UTC), ascending.
        values: value at each bar's close; several curves as columns.
        start_value: the value before the first bar.

    Returns:
        A DataFrame with `year`, `month` and one percent column per curve (a DataFrame's
        column names, else `return_pct`, `return_pct_1`, ...).
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
    """Every metric of one equity curve: a dict with exactly `METRIC_KEYS`.

    `net_pnl` is W_n - W_0 (open positions at their last close), `gross_pnl` adds the fees.

    Args:
        values: portfolio value at the close of each measured bar.
        start_value: the value before the first measured bar (W_0).
        bars_per_year: bars in a 365-day year (1h: 8760).
        trades: net profit of each closed trade. Defaults to none.
        exposure: per bar, whether a position was open. Defaults to `None` (unknown).
        risk_free: yearly risk-free rate for Sharpe and Sortino. Defaults to `0.0`.
        fees: commission paid, in quote currency. Defaults to `None` (unknown).
        trade_entry_values, trade_bars_held: per closed trade, as `trade_stats` takes them.
            Defaults to `None`.

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
