"""Maximum drawdown and the longest time under water, from `start`."""

from .. import stats
from ._measured import MeasuredAnalyzer

__all__ = ["MaxDrawdown"]


class MaxDrawdown(MeasuredAnalyzer):
    """Deepest fall from a running peak and the longest drawdown (`stats.max_drawdown`).

    Matches backtrader's `DrawDown` `max.drawdown`/`max.len` measured from the first bar; the
    peak starts at the value before `start`. `get_analysis()`: `max_drawdown_pct`,
    `max_drawdown_bars`.
    """

    def stop(self):
        pct, bars = stats.max_drawdown(self.values, self.start_value)
        self.rets = {"max_drawdown_pct": pct, "max_drawdown_bars": bars}
