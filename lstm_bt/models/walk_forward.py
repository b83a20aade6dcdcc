"""The walk-forward: which model forecasts each bar, trained on bars <= t only.

`WalkForward` is driven one bar at a time (`prepare`, then `is_tradable` and `forecast` at
every bar), by a strategy over backtrader lines or by `run` over a kline frame: the same calls,
so the same forecasts. `ReplayedForecasts` is the same interface over forecasts made earlier.
"""

import bisect
import logging
import time
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from ..data.dates import parse_date
from ..errors import InvalidParameter, check_int, fill_params
from .forecaster import OHLCV, LSTMForecaster
from .schedule import MAX_BARS, check_schedule_params, required_history, window_at

__all__ = ["WalkForward", "ReplayedForecasts", "walk_for", "forecast_frame"]

logger = logging.getLogger(__name__)

_SCHEDULE_DEFAULTS = {"train_window": 2000, "retrain_every": 168, "input_warmup": None}
_FORECAST_COLUMNS = ["datetime", "close", "predicted_close"]


class _Walk:
    """What `WalkForward` and `ReplayedForecasts` share: finding a run's first tradable bar."""

    def prepare(self, start=None, warmup=0, bar_times=None, time_of=None):
        """Get ready for a run; refuse data known up front to be too short.

        Args:
            start: the first tradable bar (UTC). Defaults to `None`: the first with enough history.
            warmup: bars the extra inputs lack values at the start. Defaults to `0`.
            bar_times: every bar's open time, when known before the run. Defaults to `None`.
            time_of: turns an item of `bar_times` into a naive UTC datetime. Defaults to `None`.
        """
        self.start = None if start is None else parse_date(start, "start")
        self.warmup = max(self.params["input_warmup"] or 0, warmup)
        self.first_tradable = None
        self.tradable_from = None
        if bar_times is not None:
            self._require_history_in(bar_times, time_of)

    def is_tradable(self, bar, when):
        """Whether `bar`, opening at `when`, is at or after the first tradable bar."""
        if self.first_tradable is None:
            if (bar < self.history_needed(self.warmup) if self.start is None
                    else when < self.start):
                return False
            self.require_history(bar, "", self.warmup)
            self.begin(bar)
            self.tradable_from = when
        return True

    def no_tradable_bar(self):
        """Why a run reached no tradable bar, with the fix."""
        after = f" and at or after start ({self.start})" if self.start else ""
        return (f"no bar had the {self.history_needed(self.warmup)} bars of history the first "
                f"model needs (train_window + seq_len + input warm-up) before it{after}; load "
                f"more history or lower train_window.")

    def history_needed(self, warmup=None):
        """Bars needed before the first tradable bar: `train_window + seq_len` + warm-up."""
        if warmup is None:
            warmup = self.params["input_warmup"] or 0
        return required_history(self.params["train_window"], self.params["seq_len"]) + warmup

    def _require_history_in(self, bar_times, time_of):
        if self.start is None:
            self.require_history(max(len(bar_times) - 1, 0),
                                 f" (the data has {len(bar_times)} bars)",
                                 self.warmup)
        else:
            before = bisect.bisect_left(bar_times, self.start, key=time_of)
            self.require_history(before, f" before `start` ({self.start})", self.warmup)


class WalkForward(_Walk):
    """A rolling walk-forward of `LSTMForecaster` models, future-blind by construction.

    The model that forecasts from the close of bar t was fit at the close of a bar `fit_at <= t`,
    on bars up to it, and is refit every `retrain_every` bars (`models.schedule`). A run
    records `first_tradable` (its index), `tradable_from` (its time), `model_` (the last fit),
    `training_history` (one dict per fit) and `timing`.

    Args:
        train_window: training samples per model. Defaults to `2000`.
        retrain_every: bars between two fits. Defaults to `168`.
        input_warmup: bars extra input columns need before their first value (see
            `LSTMStrategy.extra_inputs`); None: 0. Defaults to `None`.
        **model_params: `LSTMForecaster` arguments (`seq_len`, `units`, `epochs`, `seed`,
            ...); each takes the forecaster's default when left out.
    """

    def __init__(self, **params):
        self.params = self.check_params(**params)
        self.model_ = None
        self.training_history = []
        self.timing = _fresh_timing()
        self.prepare()

    @classmethod
    def param_defaults(cls):
        """Every walk-forward param and its default, in the order of the flags."""
        model = LSTMForecaster.param_defaults()
        return {"seq_len": model.pop("seq_len"), **_SCHEDULE_DEFAULTS, **model}

    @classmethod
    def check_params(cls, **params):
        """Every param with its default filled in, or `InvalidParameter` for the first bad one."""
        p = fill_params(cls.__name__, params, cls.param_defaults())
        p["train_window"], p["seq_len"], p["retrain_every"] = check_schedule_params(
            p["train_window"], p["seq_len"], p["retrain_every"])
        model = _new_forecaster(p)
        model._validate_params()
        p.update(model.get_params())
        p["input_warmup"] = check_int("input_warmup", p["input_warmup"], high=MAX_BARS,
                                      none_ok=True,
                                      meaning="bars before the extra inputs have values")
        return p

    def require_history(self, available, where="", warmup=None):
        """Raise `InvalidParameter` when `available` bars are too few for the first model."""
        needed = self.history_needed(warmup)
        if available >= needed:
            return
        p = self.params
        warmup = needed - required_history(p["train_window"], p["seq_len"])
        terms, values = "train_window + seq_len", f"{p['train_window']} + {p['seq_len']}"
        fix = "Load more history"
        if warmup:
            terms, values = terms + " + input_warmup", values + f" + {warmup}"
            if warmup > (p["input_warmup"] or 0):
                fix = (f"Set input_warmup={warmup} (the extra inputs' warm-up) so a "
                       f"backtest loads it, or load more history")
        raise InvalidParameter(
            f"Received too little data for `train_window`: the first model needs {terms} = "
            f"{values} = {needed} bars before the first tradable bar, and there are "
            f"{available}{where}. {fix}, or lower `train_window` (or `seq_len`)."
        )

    def begin(self, first_tradable):
        """Start a walk (again) with `first_tradable` as its first forecasting bar."""
        self.first_tradable = first_tradable
        self.model_ = None
        self.training_history = []
        self.timing = _fresh_timing()
        self._forecaster = _new_forecaster(self.params)

    def forecast(self, bar, when, read_bars):
        """The forecast of close_(bar + 1) made at the close of `bar`, fitting first when due.

        `when` is the bar's open time; `read_bars(size)` returns the last `size` bars up to and
        including `bar` as a `(size, 5 + k)` float array (OHLCV, then k extra input columns).
        """
        p = self.params
        window = window_at(bar, self.first_tradable, p["train_window"], p["seq_len"],
                           p["retrain_every"])
        if window.fit_at == bar:
            self._fit(read_bars(window.train_stop - window.train_start), when)
        began = time.perf_counter()
        predicted = self._forecaster.predict_next(read_bars(p["seq_len"] + 1))
        self.timing["predict_s"] += time.perf_counter() - began
        return predicted

    def run(self, frame, start=None, extra_inputs=None):
        """Forecast every bar from `start` on over a kline frame (warm-up first), without
        backtrader; returns a `forecast_frame`.

        Args:
            start: the first bar that forecasts (datetime or ISO date). Defaults to `None`: the
                first bar with `history_needed()` bars before it.
            extra_inputs: extra input columns aligned with `frame`. Defaults to `None`.
        """
        bars = frame[list(OHLCV)].to_numpy(dtype=np.float64)
        if extra_inputs is not None:
            if hasattr(extra_inputs, "reindex"):
                extra_inputs = extra_inputs.reindex(frame.index)
            extra = np.asarray(extra_inputs, dtype=np.float64)
            if len(extra) != len(bars):
                raise InvalidParameter(
                    f"Received `extra_inputs` with {len(extra)} rows for {len(bars)} bars; "
                    f"pass one row per bar of `frame` (a frame or Series on its index).")
            bars = np.column_stack([bars, extra.reshape(len(bars), -1)])
        times = _naive_utc(frame.index).to_pydatetime()
        if start is not None and len(times) and parse_date(start, "start") > times[-1]:
            raise InvalidParameter(
                f"Received an invalid value for `start`, expected a bar within the data "
                f"(up to {times[-1]}), got {start!r}."
            )
        self.prepare(start, bar_times=times)
        predicted = [self.forecast(bar, when, lambda size, bar=bar: bars[bar - size + 1:bar + 1])
                     for bar, when in enumerate(times) if self.is_tradable(bar, when)]
        first = self.first_tradable
        return forecast_frame(times[first:], bars[first:, 3], predicted)

    def _fit(self, bars, when):
        warm = self.model_ is not None and self.params["warm_start"]
        began = time.perf_counter()
        self._forecaster.fit(bars)
        spent = time.perf_counter() - began
        self.model_ = self._forecaster
        self.timing["train_s"] += spent
        self.timing["retrains"] += 1
        history = self._forecaster.history_
        self.training_history.append({"window_end": when, "loss": history["loss"],
                                      "val_loss": history["val_loss"], "warm": warm,
                                      "fit_s": spent})
        logger.debug("fit at %s (%s) in %.2fs", when, "warm" if warm else "cold", spent)


class ReplayedForecasts(_Walk):
    """The walk-forward interface over forecasts made earlier: nothing is trained.

    Args:
        forecasts: predicted closes, a Series indexed by bar open time, or a `ReplayedForecasts`.
        training_history: the history of the walk that made them. Defaults to `None`.
        params: that walk's params, which decide where a run without `start` begins.
            Defaults to `None` (`WalkForward`'s defaults).
    """

    model_ = None

    def __init__(self, forecasts, training_history=None, params=None):
        if isinstance(forecasts, ReplayedForecasts):
            self._table = forecasts._table
            training_history = forecasts.training_history if training_history is None \
                else training_history
        elif isinstance(forecasts, pd.Series):
            index = _naive_utc(pd.DatetimeIndex(forecasts.index)).round("ms")
            self._table = dict(zip(index.to_pydatetime(),
                                   forecasts.to_numpy(dtype=np.float64)))
        else:
            raise _not_forecasts(forecasts)
        self.training_history = list(training_history or ())
        self.params = WalkForward.check_params(**(params or {}))
        self.timing = _fresh_timing()
        self.prepare()

    @staticmethod
    def check(forecasts):
        """Raise `InvalidParameter` unless `forecasts` is None, a Series or a replay."""
        if forecasts is not None and not isinstance(forecasts, (pd.Series, ReplayedForecasts)):
            raise _not_forecasts(forecasts)

    def require_history(self, available, where="", warmup=None):
        """Nothing: a replay trains no model."""
        del available, where, warmup

    def begin(self, first_tradable):
        self.first_tradable = first_tradable

    def forecast(self, bar, when, read_bars):
        del bar, read_bars
        # To the millisecond: backtrader's float dates move a bar's time by microseconds.
        value = self._table.get(_to_millisecond(when), float("nan"))
        if not np.isfinite(value):
            raise InvalidParameter(
                f"Received `forecasts` without a forecast for the tradable bar {when}. Pass "
                f"the `predicted_close` of a run over the same data and `start`, indexed by "
                f"bar datetime."
            )
        return value


def walk_for(params, forecasts=None):
    """A new walk for one run: a `WalkForward`, or a replay of `forecasts` (own run state)."""
    if forecasts is None:
        return WalkForward(**params)
    return ReplayedForecasts(forecasts, params=params)


def _not_forecasts(value):
    return InvalidParameter(
        f"Received an invalid value for `forecasts`, expected a pandas Series of predicted "
        f"closes indexed by bar datetime, got {type(value).__name__}.")


def forecast_frame(times, closes, predicted):
    """The forecasts of a walk: `datetime, close, predicted_close`, one row per bar."""
    return pd.DataFrame({"datetime": list(times), "close": np.asarray(closes, dtype=np.float64),
                         "predicted_close": np.asarray(predicted, dtype=np.float64)},
                        columns=_FORECAST_COLUMNS)


def _to_millisecond(when):
    """`pd.Timestamp(when).round("ms").to_pydatetime()`, cheaper for a naive `datetime`."""
    if type(when) is not datetime or when.tzinfo is not None:
        return pd.Timestamp(when).round("ms").to_pydatetime()
    rest = when.microsecond % 1000
    if not rest:
        return when
    down = when - timedelta(microseconds=rest)
    # Ties to the even millisecond, as pandas rounds.
    if rest > 500 or (rest == 500 and when.microsecond // 1000 % 2):
        return down + timedelta(milliseconds=1)
    return down


def _naive_utc(index):
    return index.tz_convert("UTC").tz_localize(None) if index.tz is not None else index


def _fresh_timing():
    return {"train_s": 0.0, "predict_s": 0.0, "retrains": 0}


def _new_forecaster(params):
    return LSTMForecaster(**{name: params[name] for name in LSTMForecaster.param_defaults()})
