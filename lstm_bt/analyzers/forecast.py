"""Forecast skill of a strategy that publishes its one-bar-ahead forecasts."""

import numpy as np
import pandas as pd

from .. import stats
from ..data.bar_times import bar_time
from ._measured import MeasuredAnalyzer

__all__ = ["ForecastSkill"]


class ForecastSkill(MeasuredAnalyzer):
    """Forecast skill (`stats.forecast_skill`) of a strategy's `forecasts_frame()`.

    Each forecast is scored on the bar it was made at against the next close; only those made
    from `start` count. `get_analysis()`: exactly `FORECAST_KEYS` (`n` 0 without forecasts).
    """

    def start(self):
        super().start()
        self._every_datetime, self._every_close = [], []

    def next(self):
        super().next()
        # All bars, warm-up included: the first measured forecast needs the move before it.
        self._every_datetime.append(bar_time(self.data))
        self._every_close.append(self.data.close[0])

    def stop(self):
        frame = self._forecasts()
        closes = np.asarray(self._every_close, dtype=float)
        predicted = np.full(len(closes), np.nan)
        if frame is not None and len(frame):
            by_time = pd.Series(
                frame["predicted_close"].to_numpy(dtype=float),
                index=pd.DatetimeIndex(frame["datetime"]),
            )
            bars = pd.DatetimeIndex(self._every_datetime)
            by_time = by_time[~by_time.index.duplicated(keep="last")]
            predicted = by_time.reindex(bars).to_numpy(copy=True)
            measured = np.array([self.measuring(when) for when in self._every_datetime], bool)
            predicted[~measured] = np.nan
        self.rets = stats.forecast_skill(closes, predicted)

    def _forecasts(self):
        publish = getattr(self.strategy, "forecasts_frame", None)
        if publish is None:
            return None
        frame = publish()
        if "datetime" not in frame.columns:
            frame = frame.reset_index()
        return frame
