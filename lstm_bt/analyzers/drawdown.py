"""Maximum drawdown and the longest time under water, from `start`."""

from .. import stats
from ._measured import MeasuredAnalyzer

__all__ = ["MaxDrawdown"]


class MaxDrawdown(MeasuredAnalyzer):
    """Deepest fall of the portfolio value from a running peak, and the longest drawdown.

    Named apart from backtrader's `DrawDown`, whose `max.drawdown` and `max.len` it matches
    when measuring from the first bar. The peak starts at the value before `start`, so a loss
    on the first measured bar counts.

    Params:

      - ``start``, ``bars_per_year``: see `MeasuredAnalyzer` (no annualizing happens here).

    `get_analysis()` returns ``{"max_drawdown_pct": float | None, "max_drawdown_bars":
    int | None}``: 100 * max_t (1 - W_t / max_{s<=t} W_s), and the most consecutive bars below
    a previous peak; None when no bar was measured.
    """

    def stop(self):
        pct, bars = stats.max_drawdown(self.values, self.start_value)
        self.rets = {"max_drawdown_pct": pct, "max_drawdown_bars": bars}
