"""Sharpe and Sortino ratios annualized for 24/7 markets.

backtrader's own `SharpeRatio` assumes yearly returns and 252 trading days, so on hourly
crypto bars it gives None or a wrong figure. These annualize from the feed's own bar length.
"""

from .. import stats
from ._measured import MeasuredAnalyzer

__all__ = ["SharpeRatio", "SortinoRatio"]


class SharpeRatio(MeasuredAnalyzer):
    """Annualized Sharpe ratio of the per-bar returns from `start`.

    sharpe = mean(r - rf) / std(r - rf, ddof=1) * sqrt(P), P = bars per 365-day year.

    Params:

      - ``start``, ``bars_per_year``: see `MeasuredAnalyzer`.
      - ``risk_free`` (default: ``0.0``): yearly risk-free rate (0.04 = 4 %), converted to
        the per-bar rate that compounds to it.

    `get_analysis()` returns ``{"sharperatio": float | None, "bars_per_year": float,
    "bars": int}``; None when fewer than two bars or the returns never vary.
    """

    params = (("risk_free", 0.0),)

    def stop(self):
        returns = stats.simple_returns(self.values, self.start_value)
        self.rets = {
            "sharperatio": stats.sharpe_ratio(returns, self.bars_per_year, self.p.risk_free),
            "bars_per_year": self.bars_per_year,
            "bars": len(returns),
        }


class SortinoRatio(MeasuredAnalyzer):
    """Annualized Sortino ratio of the per-bar returns from `start`.

    sortino = mean(r) * sqrt(P) / sqrt(mean(min(r, 0)^2)), the downside mean over all bars.

    Params:

      - ``start``, ``bars_per_year``: see `MeasuredAnalyzer`.
      - ``risk_free`` (default: ``0.0``): yearly minimum acceptable return, converted per bar
        and subtracted from every return first.

    `get_analysis()` returns ``{"sortinoratio": float | None, "bars_per_year": float,
    "bars": int}``; None when fewer than two bars or no bar fell below the threshold.
    """

    params = (("risk_free", 0.0),)

    def stop(self):
        returns = stats.simple_returns(self.values, self.start_value)
        self.rets = {
            "sortinoratio": stats.sortino_ratio(returns, self.bars_per_year, self.p.risk_free),
            "bars_per_year": self.bars_per_year,
            "bars": len(returns),
        }
