"""`LSTMStrategy`: trade the forecast of a Keras LSTM retrained on a rolling window.

At the close of every tradable bar t the strategy forecasts close_(t+1) with a model fit on
bars <= t only (the schedule in `models.schedule` says which), and sends a market order that
fills at the next bar's open. Bars are read through backtrader lines (`line.get`), which end
at the current bar even when the feed is preloaded, so the future is never in reach.
"""

import bisect
import logging
import time
from collections import deque

import backtrader as bt
import numpy as np
import pandas as pd

from ..dates import parse_date
from ..errors import InvalidParameter, did_you_mean
from ..models.forecaster import LSTMForecaster
from ..models.schedule import check_schedule_params, required_history, window_at
from .sizing import check_sizing, target_size

__all__ = ["LSTMStrategy"]

logger = logging.getLogger(__name__)


class LSTMStrategy(bt.Strategy):
    """Long (or short) when the LSTM's next-close forecast beats the close by a threshold.

    Params:
        seq_len: bars in one input sequence. Defaults to `60`.
        train_window: training samples per model; the first model needs
            `train_window + seq_len` bars before the first tradable bar. Defaults to `2000`.
        retrain_every: bars between two fits. Defaults to `168` (a week of 1h bars).
        units: LSTM layer widths, e.g. `(64,)`, `(64, 32)`. Defaults to `(32,)`.
        dense_units: relu Dense layers before the output, e.g. `(25,)`. Defaults to `()`.
        dropout: dropout after each LSTM layer. Defaults to `0.0`.
        learning_rate: Adam learning rate. Defaults to `0.001`.
        batch_size: samples per gradient step. Defaults to `128`.
        epochs: maximum epochs of a cold fit (the first one, or every one without
            `warm_start`). Defaults to `20`.
        warm_start: later fits continue from the previous window's weights. Defaults to `True`.
        warm_epochs: maximum epochs of a warm fit. Defaults to `3`.
        patience: early-stopping patience on the validation loss; 0 disables. Defaults to `3`.
        validation_split: most recent share of each window held out for early stopping.
            Defaults to `0.1`.
        features: `"returns"` (stationary inputs, next log return) or `"ohlc_minmax"` (the
            seeds' scaled OHLC, next close). Defaults to `"returns"`.
        threshold: minimum predicted move, as a fraction of the close (0.001 = 0.1 %), to go
            long (or short/flat); smaller moves keep the current position. Defaults to `0.0`.
        allow_short: go short on a predicted fall instead of only exiting. Defaults to `False`.
        sizing: `"all_in"` (`fraction` of equity), `"proportional"` (`fraction` of equity
            times `min(1, scale * |move|)`, re-sized every bar the signal holds) or
            `"fixed"` (`stake` units). Defaults to `"all_in"`.
        fraction: share of equity for `all_in` and the cap of `proportional`; below 1 so the
            gap to the next open and commission still fit in the cash. Defaults to `0.95`.
        stake: position in base-asset units for `fixed` (may be fractional). Defaults to `1.0`.
        scale: exposure per unit of predicted move for `proportional` (100: a 1 % predicted
            move takes the full `fraction`). Defaults to `100.0`.
        smooth: act on the mean predicted move of the last `smooth` forecasts.
            Defaults to `1`.
        seed: seeds weights, shuffling and dropout; same seed, same data: same forecasts and
            trades. Defaults to `0`.
        start: first tradable bar (a datetime or date string, UTC); earlier bars only feed
            the model. None: the first bar with `train_window + seq_len` bars before it.
            Defaults to `None`.
        forecasts: a pandas Series of `predicted_close` indexed by bar datetime, e.g. the
            `predicted_close` of an earlier run's `forecasts_frame()`: no model is trained and
            these forecasts are traded instead (forecast-cache replay). Defaults to `None`.
        input_warmup: bars the `extra_inputs` need before their first value (33 for a
            12/26/9 MACD signal line); the first model then needs
            `train_window + seq_len + input_warmup` bars before the first tradable bar. A run
            measures the lines' own warm-up and uses the larger; declaring it lets
            `run_backtest` and `lstm-bt backtest` load enough history before `start`.
            None: 0. Defaults to `None`.

    Extra model inputs: override `extra_inputs()` to return backtrader lines built in
    `__init__` (indicators, single lines of one such as `macd.signal`, or line arithmetic
    such as `macd.macd / self.data.close`; backtrader only computes lines made there). Each
    line becomes one more input column, scaled like the others with the training window's
    statistics only. Training and the per-bar forecast read them the same way, through
    `line.get()`, so only bars <= t are seen as long as the indicator itself is causal
    (backtrader's are). Declare their warm-up in `input_warmup`. See
    `strategies/rsi_macd.py`.

    Params are checked by `check_params(**params)`, before any data is read by
    `run_backtest` and again when a run starts; a subclass with params of its own overrides
    it: `p = super().check_params(**params)`, then raise `InvalidParameter` naming the param
    and the fix, and return `p`.

    After (and during) a run: `forecasts_frame()`, `model_` (the last fitted
    `LSTMForecaster`, None before the first fit or in replay), `training_history` (one dict per
    fit: `window_end`, `loss`, `val_loss`, `warm`, `fit_s`) and `timing` (`train_s`,
    `predict_s`, `retrains`).

    Example:
        >>> cerebro.addstrategy(LSTMStrategy, seq_len=60, train_window=2000,
        ...                     retrain_every=168, threshold=0.001)
    """

    params = (
        ("seq_len", 60),
        ("train_window", 2000),
        ("retrain_every", 168),
        ("units", (32,)),
        ("dense_units", ()),
        ("dropout", 0.0),
        ("learning_rate", 0.001),
        ("batch_size", 128),
        ("epochs", 20),
        ("warm_start", True),
        ("warm_epochs", 3),
        ("patience", 3),
        ("validation_split", 0.1),
        ("features", "returns"),
        ("threshold", 0.0),
        ("allow_short", False),
        ("sizing", "all_in"),
        ("fraction", 0.95),
        ("stake", 1.0),
        ("scale", 100.0),
        ("smooth", 1),
        ("seed", 0),
        ("start", None),
        ("forecasts", None),
        ("input_warmup", None),
    )

    def extra_inputs(self):
        """Backtrader lines fed to the model besides OHLCV, one input column each.

        Override to add inputs; called once per run, after `__init__`. Defaults to none.

        Returns:
            A sequence of lines or single-line indicators made in `__init__`, e.g.
            `(self.rsi, self.macd.macd, self.macd.signal)`.
        """
        return ()

    @classmethod
    def check_params(cls, **params):
        """Raise `InvalidParameter` for the first param that cannot work, before any data.

        Checks everything knowable without bars: the schedule, the model, sizing, threshold,
        smoothing, `start`, `forecasts`, `input_warmup`, and names that are no param. Bars too
        few for the first model are refused when the run starts.

        Args:
            **params: strategy params; the rest take their defaults.

        Returns:
            Every param as a dict, defaults filled in (for a subclass's own checks).

        Raises:
            InvalidParameter: e.g. for `check_params(seq_len=60, train_window=50)`: "Received
                an invalid value for `seq_len`, expected fewer bars than `train_window` ...".
        """
        defaults = dict(cls.params._getitems())
        for name in params:
            if name not in defaults:
                raise InvalidParameter(
                    f"{cls.__name__} has no param {name!r}.{did_you_mean(name, defaults)}")
        p = {**defaults, **params}
        check_schedule_params(p["train_window"], p["seq_len"], p["retrain_every"])
        _new_forecaster(p)._validate_params()
        check_sizing(p["sizing"])
        if not _is_int_at_least(p["smooth"], 1):
            raise InvalidParameter(
                f"Received an invalid value for `smooth`, expected a positive integer (the "
                f"number of forecasts to average), got {p['smooth']!r}."
            )
        for name, low, high, inclusive_low in (("threshold", 0.0, None, True),
                                               ("fraction", 0.0, 1.0, False),
                                               ("stake", 0.0, None, False),
                                               ("scale", 0.0, None, False)):
            if not _in_range(p[name], low, high, inclusive_low):
                bounds = (f"in ({low}, {high}]" if high
                          else f"{'>=' if inclusive_low else '>'} {low}")
                raise InvalidParameter(
                    f"Received an invalid value for `{name}`, expected a number {bounds}, "
                    f"got {p[name]!r}."
                )
        if p["input_warmup"] is not None and not _is_int_at_least(p["input_warmup"], 0):
            raise InvalidParameter(
                f"Received an invalid value for `input_warmup`, expected None or an integer "
                f">= 0 (bars before the extra inputs have values), got {p['input_warmup']!r}."
            )
        if p["forecasts"] is not None and not isinstance(p["forecasts"], pd.Series):
            raise InvalidParameter(
                f"Received an invalid value for `forecasts`, expected a pandas Series of "
                f"predicted closes indexed by bar datetime, got "
                f"{type(p['forecasts']).__name__}."
            )
        _start_datetime(p["start"])
        return p

    def start(self):
        params = self.p._getkwargs()
        self.check_params(**params)
        self._start = _start_datetime(self.p.start)
        self._replay = _replay_table(self.p.forecasts)
        self._forecaster = None if self._replay is not None else _new_forecaster(params)
        self._inputs = tuple(self.extra_inputs())
        # Bars before a line's minimum period hold NaN: the first window must start after them.
        measured = max((line._minperiod - 1 for line in self._inputs), default=0)
        self._warmup = max(self.p.input_warmup or 0, measured)
        self._check_history_length()
        # Everything a run accumulates starts over here, so one instance can run twice.
        self.model_ = None
        self.training_history = []
        self.timing = {"train_s": 0.0, "predict_s": 0.0, "retrains": 0}
        self._rows = []
        self._moves = deque(maxlen=self.p.smooth)
        self._signal = 0
        self._first_tradable = None

    def next(self):
        bar = len(self.data) - 1
        if not self._is_tradable(bar):
            return
        close = self.data.close[0]
        when = self.data.datetime.datetime(0)
        predicted = self._forecast(bar, when)
        move = predicted / close - 1.0
        self._moves.append(move)
        smoothed = float(np.mean(self._moves))
        self._signal = self._next_signal(smoothed)
        self._trade(smoothed, close)
        self._rows.append((when, close, predicted, self._signal))

    def forecasts_frame(self):
        """One row per tradable bar: `datetime, close, predicted_close, signal`.

        Row t holds close_t, the raw model forecast of close_(t+1) made at t's close, and the
        position the strategy then targeted (1 long, -1 short, 0 flat; with `smooth` > 1 it
        follows the smoothed forecast).
        """
        return pd.DataFrame(self._rows, columns=["datetime", "close", "predicted_close", "signal"])

    def _is_tradable(self, bar):
        if self._first_tradable is None:
            when = self.data.datetime.datetime(0)
            if self._start is None:
                if bar < self._history_needed():
                    return False
            elif when < self._start:
                return False
            self._first_tradable = bar
            if self._replay is None:
                self._require_history(bar, "")
        return True

    def _forecast(self, bar, when):
        if self._replay is not None:
            return self._replayed(when)
        p = self.p
        window = window_at(bar, self._first_tradable, p.train_window, p.seq_len, p.retrain_every)
        if window.fit_at == bar:
            self._fit(self._bars(window.train_stop - window.train_start), when)
        began = time.perf_counter()
        predicted = self._forecaster.predict_next(self._bars(p.seq_len + 1))
        self.timing["predict_s"] += time.perf_counter() - began
        return predicted

    def _fit(self, bars, when):
        warm = self.model_ is not None and self.p.warm_start
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

    def _bars(self, size):
        """The last `size` bars up to and including the current one: OHLCV, then the extra
        input lines, as one array."""
        data = self.data
        lines = (data.open, data.high, data.low, data.close, data.volume, *self._inputs)
        return np.column_stack([np.asarray(line.get(size=size), dtype=np.float64)
                                for line in lines])

    def _replayed(self, when):
        try:
            value = self._replay[when]
        except KeyError:
            value = float("nan")
        if not np.isfinite(value):
            raise InvalidParameter(
                f"Received `forecasts` without a forecast for the tradable bar {when}. Pass "
                f"the `predicted_close` of a run over the same data and `start`, indexed by "
                f"bar datetime."
            )
        return value

    def _next_signal(self, move):
        if move > self.p.threshold:
            return 1
        if move < -self.p.threshold:
            return -1 if self.p.allow_short else 0
        return self._signal

    def _trade(self, move, close):
        held = self.getposition(self.data).size
        resize = self.p.sizing == "proportional" and abs(move) > self.p.threshold
        if np.sign(held) == self._signal and not resize:
            return
        target = target_size(self.p.sizing, self._signal, move, self.broker.getvalue(), close,
                             fraction=self.p.fraction, stake=self.p.stake, scale=self.p.scale)
        if target != held:
            self.order_target_size(data=self.data, target=target)

    def _check_history_length(self):
        """With a preloaded feed, refuse too short data before the run starts (no training)."""
        if self._replay is not None or self.data.buflen() <= 0:
            return
        numbers = self.data.datetime.array
        if self._start is None:
            self._require_history(len(numbers) - 1, f" (the feed has {len(numbers)} bars)")
        else:
            self._require_history(bisect.bisect_left(numbers, bt.date2num(self._start)),
                                  f" before `start` ({self._start})")

    def _history_needed(self):
        return required_history(self.p.train_window, self.p.seq_len) + self._warmup

    def _require_history(self, available, where):
        needed = self._history_needed()
        if available >= needed:
            return
        terms, values = "train_window + seq_len", f"{self.p.train_window} + {self.p.seq_len}"
        fix = "Load more history"
        if self._warmup:
            terms, values = terms + " + input_warmup", values + f" + {self._warmup}"
            if self._warmup > (self.p.input_warmup or 0):
                fix = (f"Set input_warmup={self._warmup} (the extra inputs' warm-up) so a "
                       f"backtest loads it, or load more history")
        raise InvalidParameter(
            f"Received too little data for `train_window`: the first model needs {terms} = "
            f"{values} = {needed} bars before the first tradable bar, and there are "
            f"{available}{where}. {fix}, or lower `train_window` (or `seq_len`)."
        )


def _new_forecaster(params):
    """An unfitted `LSTMForecaster` taking its arguments from the strategy params `params`."""
    return LSTMForecaster(**{name: params[name] for name in LSTMForecaster._PARAMS})


def _replay_table(forecasts):
    if forecasts is None:
        return None
    index = pd.DatetimeIndex(forecasts.index)
    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    return dict(zip(index.to_pydatetime(), forecasts.to_numpy(dtype=np.float64)))


def _is_int_at_least(value, low):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= low


def _in_range(value, low, high, inclusive_low):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    above = value >= low if inclusive_low else value > low
    return above and (high is None or value <= high)


def _start_datetime(start):
    """`start` as a naive UTC datetime (None stays None)."""
    return None if start is None else parse_date(start, "start")
