"""The equity curve, bar by bar from `start`, beside buy and hold (the runner's equity.csv)."""

from ..data.bar_times import bar_time
from ._measured import MeasuredAnalyzer
from .metrics import buy_and_hold_values

__all__ = ["EquityCurve"]


class EquityCurve(MeasuredAnalyzer):
    """Portfolio and buy-and-hold value (as `Benchmark` defines it) at each measured close.

    `get_analysis()`: columns `datetime`, `value`, `benchmark`, ready for a DataFrame.
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
