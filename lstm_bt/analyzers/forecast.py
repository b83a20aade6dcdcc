"""Forecast skill of a strategy that publishes its one-bar-ahead forecasts."""

import numpy as np
import pandas as pd

from .. import stats
from ..data.bar_times import bar_time
from ._measured import MeasuredAnalyzer

__all__ = ["ForecastSkill"]


class ForecastSkill(MeasuredAnalyzer):
    """Hit rate, binomial p-value, RMSE, MAE and the persistence baseline of the forecasts.

    Reads ``strategy.forecasts_frame()`` (columns ``datetime, close, predicted_close,
    signal``; row t holds the forecast of close_(t+1)) when the strategy has one, puts each
    forecast on the bar it was made at, and scores it against the first data's next close
    with `lstm_bt.stats.forecast_skill`. Only forecasts made at or after `start` count; the
    bar before `start` still supplies the baseline's "last move".

    Params:

      - ``start``, ``bars_per_year``: see `MeasuredAnalyzer` (no annualizing happens here).

    `get_analysis()` returns a dict with exactly `lstm_bt.stats.FORECAST_KEYS`; a strategy
    without forecasts gets ``n = 0`` and None for the rest.
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
