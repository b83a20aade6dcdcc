"""Sharpe and Sortino ratios annualized from the feed's own bar length (24/7 markets), where
backtrader's `SharpeRatio` assumes 252 trading days."""

from .. import stats
from ._measured import MeasuredAnalyzer

__all__ = ["SharpeRatio", "SortinoRatio"]


class SharpeRatio(MeasuredAnalyzer):
    """Annualized Sharpe ratio of the per-bar returns from `start` (`stats.sharpe_ratio`).

    Params: ``risk_free`` (default ``0.0``), a yearly rate. `get_analysis()`: `sharperatio`,
    `bars_per_year`, `bars`.
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
    """Annualized Sortino ratio of the per-bar returns from `start` (`stats.sortino_ratio`).

    Params: ``risk_free`` (default ``0.0``), a yearly minimum acceptable return.
    `get_analysis()`: `sortinoratio`, `bars_per_year`, `bars`.
    """

    params = (("risk_free", 0.0),)

    def stop(self):
        returns = stats.simple_returns(self.values, self.start_value)
        self.rets = {
            "sortinoratio": stats.sortino_ratio(returns, self.bars_per_year, self.p.risk_free),
            "bars_per_year": self.bars_per_year,
            "bars": len(returns),
        }
