"""`LSTMStrategy`: trade the forecast of a Keras LSTM retrained on a rolling window.

A `WalkForward` trains the models on bars <= t and forecasts close_(t+1); this class trades
those forecasts with market orders that fill at the next bar's open. Bars are read through
backtrader lines (`line.get`), which end at the current bar even on a preloaded feed.
"""

import logging
from collections import deque

import backtrader as bt
import numpy as np
import pandas as pd

from ..data.bar_times import bar_time, utc_datetime
from ..data.dates import parse_date
from ..errors import fill_params
from ..models.walk_forward import ReplayedForecasts, WalkForward, walk_for
from .sizing import target_size
from .trading import (TRADING_DEFAULTS, broker_costs, check_exit_threshold,
                      check_trading_params, next_signal, resolve_threshold)

__all__ = ["LSTMStrategy"]

logger = logging.getLogger(__name__)

_RUN_DEFAULTS = {"start": None, "forecasts": None}


class LSTMStrategy(bt.Strategy):
    """Long (or short) when the LSTM's predicted next-bar move pays for a round trip.

    Model params are `WalkForward`'s (`seq_len`, `train_window`, `retrain_every`, `units`, ...,
    `seed`, `input_warmup`; see it and `LSTMForecaster`): changing one retrains. The trading
    params below (`trading_params`) only turn forecasts into orders: changing one never does.

    Params:
        threshold: the entry threshold: minimum predicted move, as a fraction of the close
            (0.001 = 0.1 %), to enter a long (or, with `allow_short`, a fall to enter a
            short). `"cost"`: a round trip's cost, 2 x (commission + slippage), read from the
            broker. Defaults to `"cost"`.
        exit_threshold: a long is left when the predicted move falls below it, a short when
            the move rises above its negative; between the two thresholds the position is
            kept. 0: leave once the forecast no longer favours the position. At most
            `threshold`. Defaults to `0.0`.
        allow_short: go short on a predicted fall beyond `threshold` instead of only
            exiting. Defaults to `False`.
        sizing: `"all_in"` (`fraction` of equity), `"proportional"` (`fraction` of equity
            times `min(1, scale * |move|)`, re-sized every bar the signal holds) or
            `"fixed"` (`stake` units). Defaults to `"all_in"`.
        fraction: share of equity for `all_in` and the cap of `proportional`; below 1 so the
            gap to the next open and commission still fit in the cash. Defaults to `0.95`.
        stake: position in base-asset units for `fixed` (may be fractional). Defaults to `1.0`.
        scale: exposure per unit of predicted move for `proportional` (100: a 1 % predicted
            move takes the full `fraction`). Defaults to `100.0`.
        smooth: act on the mean predicted move of the last `smooth` forecasts. Defaults to `1`.
        start: first tradable bar (a datetime or date string, UTC); earlier bars only feed
            the model. The analyzers measure from it (pass it here only). None: the first bar
            with `train_window + seq_len + input_warmup` bars before it. Defaults to `None`.
        forecasts: forecasts made earlier, traded instead of training (forecast-cache replay):
            a pandas Series of `predicted_close` indexed by bar datetime, or a
            `ReplayedForecasts`. Defaults to `None`.

    Subclasses list their own trading params in `trading_params`, add model inputs by
    overriding `extra_inputs()` (`strategies/rsi_macd.py`) and extend `check_params`. After a
    run: `forecasts_frame()`, `walk` (and its `model_`, `training_history`, `timing`),
    `threshold_` and `measure_from` (the first tradable bar).

    Example:
        >>> cerebro.addstrategy(LSTMStrategy, seq_len=60, train_window=2000,
        ...                     retrain_every=168, threshold=0.001)
    """

    params = tuple({**WalkForward.param_defaults(), **TRADING_DEFAULTS, **_RUN_DEFAULTS}.items())
    trading_params = tuple(TRADING_DEFAULTS)
    # A replay of stored forecasts reads no bar before `start` (but the one before it), so
    # `run_backtest` feeds it no more. False for a subclass unless it says so: its lines may.
    replay_from_start = True

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.replay_from_start = cls.__dict__.get("replay_from_start", False)

    def extra_inputs(self):
        """Backtrader lines fed to the model besides OHLCV, one input column each.

        Override to add inputs; called once per run, after `__init__`. Each line is read
        through `line.get()` (bars <= t) and scaled on the training window only; declare the
        lines' warm-up in `input_warmup` so enough history is loaded. Defaults to none.

        Returns:
            A sequence of lines or single-line indicators made in `__init__`, e.g.
            `(self.rsi, self.macd.macd, self.macd.signal)`.
        """
        return ()

    @classmethod
    def check_params(cls, **params):
        """Raise `InvalidParameter` for the first param that cannot work, before any data.

        Args:
            **params: strategy params; the rest take their defaults.

        Returns:
            Every param as a dict, defaults filled in and integers as Python ints (for a
            subclass's own checks, and what a run keys and reports).
        """
        p = fill_params(cls.__name__, params, dict(cls.params._getitems()))
        p.update(WalkForward.check_params(**cls.walk_params(p)))
        check_trading_params(p)
        ReplayedForecasts.check(p["forecasts"])
        if p["start"] is not None:
            parse_date(p["start"], "start")
        return p

    @staticmethod
    def walk_params(params):
        """The `WalkForward` params among `params`."""
        return {name: params[name] for name in WalkForward.param_defaults()}

    @classmethod
    def forecast_params(cls, params):
        """The params that shape the forecasts: all but trading and run params (the forecast
        cache's key)."""
        return {name: value for name, value in params.items()
                if name not in cls.trading_params and name not in _RUN_DEFAULTS}

    def start(self):
        p = self.check_params(**self.p._getkwargs())
        self.walk = walk_for(self.walk_params(p), p["forecasts"])
        self._inputs = tuple(self.extra_inputs())
        data = self.data
        # The lines the model reads, looked up once (backtrader's attribute lookup is slow).
        self._lines = (data.open, data.high, data.low, data.close, data.volume, *self._inputs)
        # Bars before a line's minimum period hold NaN: the first window must start after them.
        warmup = max((line._minperiod - 1 for line in self._inputs), default=0)
        # A preloaded feed holds every bar's time already: too short data is refused now.
        preloaded = self.data.buflen() > 0
        self.walk.prepare(p["start"], warmup, self.data.datetime.array if preloaded else None,
                          time_of=utc_datetime)
        self.threshold_ = resolve_threshold(p["threshold"], *broker_costs(self.broker, self.data))
        check_exit_threshold(p["exit_threshold"], self.threshold_)
        # Everything a run accumulates starts over here, so one instance can run twice.
        self._rows = []
        self._moves = deque(maxlen=p["smooth"])
        self._signal = 0

    @property
    def model_(self):
        """The last fitted `LSTMForecaster` (None before the first fit, or in replay)."""
        return self.walk.model_

    @property
    def training_history(self):
        """One dict per fit: `window_end`, `loss`, `val_loss`, `warm`, `fit_s`."""
        return self.walk.training_history

    @property
    def timing(self):
        """`train_s`, `predict_s`, `retrains` of the walk-forward so far."""
        return self.walk.timing

    @property
    def measure_from(self):
        """The first tradable bar's datetime once reached (None before): the analyzers
        measure from it when given no `start` of their own."""
        return self.walk.tradable_from

    def next(self):
        bar = len(self.data) - 1
        when = bar_time(self.data)
        if not self.walk.is_tradable(bar, when):
            return
        close = self.data.close[0]
        predicted = self.walk.forecast(bar, when, self._bars)
        moves = self._moves
        moves.append(predicted / close - 1.0)
        # One move is its own mean: np.mean only where there is something to average.
        smoothed = moves[0] if len(moves) == 1 else float(np.mean(moves))
        self._signal = next_signal(smoothed, self.threshold_, self.p.exit_threshold,
                                   self.p.allow_short, self._signal)
        # Recorded before the order: a paper session journals the forecast ahead of it.
        self._rows.append((when, close, predicted, self._signal))
        self._trade(smoothed, close)

    def stop(self):
        if self.walk.first_tradable is None:
            logger.warning("%s never traded: %s", type(self).__name__, self.walk.no_tradable_bar())

    def forecasts_frame(self):
        """One row per tradable bar: `datetime, close, predicted_close, signal`.

        Row t holds close_t, the raw model forecast of close_(t+1) made at t's close, and the
        position the strategy then targeted (1 long, -1 short, 0 flat; with `smooth` > 1 it
        follows the smoothed forecast).
        """
        return pd.DataFrame(self._rows, columns=["datetime", "close", "predicted_close", "signal"])

    def _bars(self, size):
        """The last `size` bars up to and including the current one: OHLCV, then the extra
        input lines, as one array."""
        # One row per bar, C-ordered as a frame's `to_numpy()` (`WalkForward.run`'s bars).
        return np.ascontiguousarray(
            np.array([line.get(size=size) for line in self._lines], dtype=np.float64).T)

    def _trade(self, move, close):
        held = self.getposition(self.data).size
        resize = self.p.sizing == "proportional" and abs(move) > self.threshold_
        if np.sign(held) == self._signal and not resize:
            return
        target = target_size(self.p.sizing, self._signal, move, self.broker.getvalue(), close,
                             fraction=self.p.fraction, stake=self.p.stake, scale=self.p.scale)
        if target != held:
            self.order_target_size(data=self.data, target=target)
