"""The equity curve, bar by bar from `start`, beside buy and hold (the runner's equity.csv)."""

from ..data.bar_times import bar_time
from ._measured import MeasuredAnalyzer
from .metrics import buy_and_hold_values

__all__ = ["EquityCurve"]


class EquityCurve(MeasuredAnalyzer):
    """Portfolio value and buy-and-hold value at the close of every measured bar.

    Buy and hold is defined as in `Benchmark`: W_0 into the first data at the first measured
    close, no commission.

    Params:

      - ``start``, ``bars_per_year``: see `MeasuredAnalyzer` (no annualizing happens here).

    `get_analysis()` returns columns, ready for ``pandas.DataFrame(...)``:
    ``{"datetime": [datetime, ...], "value": [float, ...], "benchmark": [float, ...]}``.
    """

    def start(self):
        super().start()
        self.datetimes = []

    def measured_bar(self):
        self.datetimes.append(bar_time(self.data))

    def stop(self):
        self.rets = {
            "datetime": list(self.datetimes),
            "value": [float(value) for value in self.values],
            "benchmark": buy_and_hold_values(self.closes, self.start_value).tolist(),
        }
