"""The walk-forward: which model forecasts each bar, trained on bars <= t only, and its record.

`WalkForward` owns the rolling schedule (`models.schedule`), the `LSTMForecaster`, the first
tradable bar, `training_history` and `timing`. It is driven one bar at a time through
`forecast(bar, when, read_bars)`, where `read_bars(size)` returns the last `size` bars up to
and including `bar` (the strategy reads them from backtrader lines; a live feed would read
them from its buffer), or run over a whole kline frame without backtrader (`run`), e.g. for
sweeps and notebooks. Both paths call the same `forecast`, so they give identical forecasts.

`ReplayedForecasts` is the same interface over forecasts made earlier (the forecast cache, a
sweep's trading-param grid): nothing is trained.

Model params are declared once, by `LSTMForecaster`; `WalkForward.param_defaults()` adds the
schedule's (`train_window`, `retrain_every`) and `input_warmup`, and `LSTMStrategy` composes
its params from these plus its trading params.
"""

import logging
import time

import numpy as np
import pandas as pd

from ..errors import InvalidParameter, fill_params
from .forecaster import OHLCV, LSTMForecaster
from .schedule import check_schedule_params, required_history, window_at

__all__ = ["WalkForward", "ReplayedForecasts", "forecast_frame"]

logger = logging.getLogger(__name__)

# The walk-forward's own params, after which come the forecaster's.
_SCHEDULE_DEFAULTS = {"train_window": 2000, "retrain_every": 168, "input_warmup": None}
_FORECAST_COLUMNS = ["datetime", "close", "predicted_close"]


class WalkForward:
    """A rolling walk-forward of `LSTMForecaster` models, future-blind by construction.

    The model that forecasts from the close of bar t was fit at the close of bar
    `fit_at <= t` on bars `fit_at - train_window - seq_len .. fit_at`, and is refit every
    `retrain_every` bars from the first tradable bar on (`models.schedule.window_at`).

    Args:
        train_window: training samples per model. Defaults to `2000`.
        retrain_every: bars between two fits. Defaults to `168`.
        input_warmup: bars extra input columns need before their first value (see
            `LSTMStrategy.extra_inputs`); None: 0. Defaults to `None`.
        **model_params: `LSTMForecaster` arguments (`seq_len`, `units`, `epochs`, `seed`,
            ...); each takes the forecaster's default when left out.

    After `begin` (or during and after `run`): `first_tradable`, `model_` (the last fitted
    forecaster, None before the first fit), `training_history` (one dict per fit:
    `window_end`, `loss`, `val_loss`, `warm`, `fit_s`) and `timing` (`train_s`, `predict_s`,
    `retrains`).

    Example:
        >>> from lstm_bt.synthetic import ar1_returns
        >>> walk = WalkForward(seq_len=8, train_window=120, retrain_every=48, units=(4,),
        ...                    epochs=1)
        >>> forecasts = walk.run(ar1_returns(300, seed=1))   # doctest: +SKIP
        >>> list(forecasts.columns)                          # doctest: +SKIP
        ['datetime', 'close', 'predicted_close']
    """

    def __init__(self, **params):
        self.params = self.check_params(**params)
        self.first_tradable = None
        self.model_ = None
        self.training_history = []
        self.timing = _fresh_timing()

    @classmethod
    def param_defaults(cls):
        """Every walk-forward param and its default (the model's, with the schedule's)."""
        model = LSTMForecaster.param_defaults()
        # seq_len first, then the schedule, then the rest of the model: the order of the flags.
        return {"seq_len": model.pop("seq_len"), **_SCHEDULE_DEFAULTS, **model}

    @classmethod
    def check_params(cls, **params):
        """Every param with defaults filled in; `InvalidParameter` for the first that cannot
        work (checks that need no data)."""
        p = fill_params(cls.__name__, params, cls.param_defaults())
        check_schedule_params(p["train_window"], p["seq_len"], p["retrain_every"])
        _new_forecaster(p)._validate_params()
        warmup = p["input_warmup"]
        if warmup is not None and (isinstance(warmup, bool) or not isinstance(
                warmup, (int, np.integer)) or warmup < 0):
            raise InvalidParameter(
                f"Received an invalid value for `input_warmup`, expected None or an integer "
                f">= 0 (bars before the extra inputs have values), got {warmup!r}."
            )
        return p

    def history_needed(self, warmup=None):
        """Bars needed before the first tradable bar: `train_window + seq_len` plus the extra
        inputs' warm-up (`warmup`, else `input_warmup`)."""
        if warmup is None:
            warmup = self.params["input_warmup"] or 0
        return required_history(self.params["train_window"], self.params["seq_len"]) + warmup

    def require_history(self, available, where="", warmup=None):
        """Raise `InvalidParameter` when `available` bars before the first tradable bar are too
        few for the first model, with the numbers and the fix."""
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
        """Start a walk (again) with `first_tradable` as the first bar that forecasts."""
        self.first_tradable = first_tradable
        self.model_ = None
        self.training_history = []
        self.timing = _fresh_timing()
        self._forecaster = _new_forecaster(self.params)

    def forecast(self, bar, when, read_bars):
        """The forecast of close_(bar + 1), made at the close of `bar` (fitting first when
        the schedule says so).

        Args:
            bar: index of the current bar in the walk's data, `>= first_tradable`.
            when: the bar's open time (recorded as the fit's `window_end`).
            read_bars: `read_bars(size)` -> `(size, 5 + k)` float array of the last `size`
                bars up to and including `bar` (OHLCV, then k extra input columns).
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
        """Forecast every bar from `start` on, over a kline frame, without backtrader.

        Args:
            frame: a kline frame (warm-up history first), indexed by bar open time.
            start: the first bar that forecasts (datetime or ISO date); its
                `history_needed()` bars must come before it. None: the first bar that has
                them. Defaults to `None`.
            extra_inputs: a frame or array of extra input columns aligned with `frame`
                (what `LSTMStrategy.extra_inputs` feeds). Defaults to `None`.

        Returns:
            A `forecast_frame`: `datetime, close, predicted_close`, one row per forecast
            bar (row t: close_t and the forecast of close_(t+1)).
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
        index = _naive_utc(frame.index)
        first = self.first_bar_index(index, start)
        self.begin(first)
        times = index.to_pydatetime()
        predicted = [self.forecast(bar, times[bar],
                                   lambda size, bar=bar: bars[bar - size + 1:bar + 1])
                     for bar in range(first, len(bars))]
        return forecast_frame(times[first:], bars[first:, 3], predicted)

    def first_bar_index(self, index, start=None):
        """Index of the first forecast bar in a DatetimeIndex, checked for enough history."""
        if start is None:
            first = self.history_needed()
            self.require_history(len(index) - 1, f" (the data has {len(index)} bars)")
            return first
        from ..dates import parse_date

        first = int(index.searchsorted(pd.Timestamp(parse_date(start, "start"))))
        if first >= len(index):
            raise InvalidParameter(
                f"Received an invalid value for `start`, expected a bar within the data "
                f"(up to {index[-1]}), got {start!r}."
            )
        self.require_history(first, f" before `start` ({start})")
        return first

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


class ReplayedForecasts:
    """The walk-forward interface over forecasts made earlier: nothing is trained.

    Args:
        forecasts: predicted closes, a pandas Series indexed by bar open time (the
            `predicted_close` of a `forecast_frame`).
        training_history: the history of the walk that made them. Defaults to none.
    """

    model_ = None

    def __init__(self, forecasts, training_history=()):
        if not isinstance(forecasts, pd.Series):
            raise _not_forecasts(forecasts)
        index = _naive_utc(pd.DatetimeIndex(forecasts.index)).round("ms")
        self._table = dict(zip(index.to_pydatetime(), forecasts.to_numpy(dtype=np.float64)))
        self.training_history = list(training_history)
        self.first_tradable = None
        self.timing = _fresh_timing()

    @staticmethod
    def check(forecasts):
        """Raise `InvalidParameter` unless `forecasts` is None, a `ReplayedForecasts` or a
        pandas Series (the forms a strategy's `forecasts` param takes)."""
        if forecasts is not None and not isinstance(forecasts, (pd.Series, ReplayedForecasts)):
            raise _not_forecasts(forecasts)

    def begin(self, first_tradable):
        self.first_tradable = first_tradable

    def forecast(self, bar, when, read_bars):
        del bar, read_bars
        # To the millisecond: backtrader's float dates move a bar's time by microseconds.
        value = self._table.get(pd.Timestamp(when).round("ms").to_pydatetime(), float("nan"))
        if not np.isfinite(value):
            raise InvalidParameter(
                f"Received `forecasts` without a forecast for the tradable bar {when}. Pass "
                f"the `predicted_close` of a run over the same data and `start`, indexed by "
                f"bar datetime."
            )
        return value


def _not_forecasts(value):
    return InvalidParameter(
        f"Received an invalid value for `forecasts`, expected a pandas Series of predicted "
        f"closes indexed by bar datetime, got {type(value).__name__}.")


def forecast_frame(times, closes, predicted):
    """The forecasts of a walk: `datetime, close, predicted_close`, one row per bar."""
    return pd.DataFrame({"datetime": list(times), "close": np.asarray(closes, dtype=np.float64),
                         "predicted_close": np.asarray(predicted, dtype=np.float64)},
                        columns=_FORECAST_COLUMNS)


def _naive_utc(index):
    """A DatetimeIndex as naive UTC (the package's convention for bar times)."""
    return index.tz_convert("UTC").tz_localize(None) if index.tz is not None else index


def _fresh_timing():
    return {"train_s": 0.0, "predict_s": 0.0, "retrains": 0}


def _new_forecaster(params):
    """An unfitted `LSTMForecaster` from the model params among `params`."""
    return LSTMForecaster(**{name: params[name] for name in LSTMForecaster.param_defaults()})
