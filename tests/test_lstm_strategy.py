"""LSTMStrategy: no lookahead, real skill only where there is structure, determinism, sizing.

Training runs use a tiny LSTM on a few hundred synthetic bars; trading-only checks replay
given forecasts (`forecasts` param), which trains nothing.
"""

import logging

import backtrader as bt
import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

from lstm_bt.errors import InvalidParameter
from lstm_bt.models import LSTMForecaster
from lstm_bt.strategies import LSTMStrategy
from lstm_bt.strategies.trading import TRADING_DEFAULTS, next_signal
from lstm_bt.data.synthetic import ar1_returns, random_walk

TINY = dict(seq_len=8, train_window=120, retrain_every=60, units=(4,), epochs=3,
            warm_epochs=1, batch_size=32, learning_rate=0.01)
SKILL = dict(seq_len=10, train_window=300, retrain_every=250, units=(8,), epochs=10,
             batch_size=32, learning_rate=0.01)
CASH = 10_000.0


class Recording(LSTMStrategy):
    """LSTMStrategy that keeps every order it placed, in placement order."""

    def start(self):
        super().start()
        self.orders = []

    def notify_order(self, order):
        if order not in self.orders:
            self.orders.append(order)

    def placed(self, until=None):
        """(created at, size) of each order placed at or before `until`."""
        return [(bt.num2date(o.created.dt), o.created.size) for o in self.orders
                if until is None or bt.num2date(o.created.dt) <= until]

    def fills(self, until=None):
        """(filled at, size, price) of each completed order filled at or before `until`."""
        return [(bt.num2date(o.executed.dt), o.executed.size, o.executed.price)
                for o in self.orders if o.status == o.Completed
                and (until is None or bt.num2date(o.executed.dt) <= until)]


def run(frame, strategy=Recording, feed=None, extra=None, **params):
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(feed if feed is not None else bt.feeds.PandasData(dataname=frame))
    cerebro.broker.setcash(CASH)
    cerebro.addstrategy(strategy, **params)
    if extra:
        extra(cerebro)
    return cerebro.run()[0]


def hit_rate(forecasts):
    """Hits and scored bars as DESIGN defines them: zero moves and the last bar left out."""
    close = forecasts["close"].to_numpy()
    actual = np.sign(close[1:] - close[:-1])
    predicted = np.sign(forecasts["predicted_close"].to_numpy()[:-1] - close[:-1])
    scored = actual != 0
    return int((predicted == actual)[scored].sum()), int(scored.sum())


def replay_series(frame, moves):
    """Forecasts for every bar of `frame`: close times (1 + move)."""
    return pd.Series(frame["close"].to_numpy() * (1 + np.asarray(moves)), index=frame.index)


@pytest.fixture(scope="module")
def walk():
    return random_walk(400, seed=11)


@pytest.fixture(scope="module")
def walk_run(walk):
    return run(walk, **TINY)


@pytest.mark.slow
def test_perturbing_bars_after_k_changes_nothing_at_or_before_k(walk, walk_run):
    k = 250  # mid-window: fits at 128, 188, 248, 308, 368
    other = random_walk(len(walk) - k - 1, seed=99, price=float(walk["close"].iloc[k]) * 1.3)
    perturbed = walk.copy()
    perturbed.iloc[k + 1:] = other.to_numpy()
    cutoff = walk.index[k].to_pydatetime()

    again = run(perturbed, **TINY)

    before = walk_run.forecasts_frame()
    after = again.forecasts_frame()
    upto = before["datetime"] <= cutoff
    assert upto.sum() > 100
    pd.testing.assert_frame_equal(before[upto], after[after["datetime"] <= cutoff])
    assert walk_run.placed(cutoff) == again.placed(cutoff)
    assert walk_run.fills(cutoff) == again.fills(cutoff)
    assert walk_run.placed(cutoff)
    # The perturbation did reach the later forecasts, so the comparison above is not vacuous.
    assert not np.allclose(before["predicted_close"][~upto], after["predicted_close"][~upto])


@pytest.mark.slow
def test_forecast_has_no_skill_on_a_random_walk():
    strategy = run(random_walk(1200, seed=3), **SKILL)
    hits, n = hit_rate(strategy.forecasts_frame())
    assert n > 800
    assert binomtest(hits, n, alternative="greater").pvalue > 0.01


@pytest.mark.slow
def test_forecast_finds_the_structure_of_ar1_returns():
    strategy = run(ar1_returns(1200, phi=0.5, seed=3), **SKILL)
    hits, n = hit_rate(strategy.forecasts_frame())
    assert n > 800
    assert binomtest(hits, n, alternative="greater").pvalue < 0.01


@pytest.mark.slow
def test_same_seed_gives_identical_forecasts_and_trades(walk, walk_run):
    again = run(walk, **TINY)
    pd.testing.assert_frame_equal(walk_run.forecasts_frame(), again.forecasts_frame())
    assert walk_run.placed() == again.placed()
    assert walk_run.fills() == again.fills()
    reseeded = run(walk, seed=1, **TINY)
    assert not walk_run.forecasts_frame()["predicted_close"].equals(
        reseeded.forecasts_frame()["predicted_close"])


@pytest.mark.slow
def test_replaying_the_forecasts_gives_the_same_trades_without_training(walk, walk_run):
    frame = walk_run.forecasts_frame()
    forecasts = pd.Series(frame["predicted_close"].to_numpy(),
                          index=pd.DatetimeIndex(frame["datetime"]))
    replayed = run(walk, forecasts=forecasts, **TINY)
    pd.testing.assert_frame_equal(frame, replayed.forecasts_frame())
    assert walk_run.placed() == replayed.placed()
    assert walk_run.fills() == replayed.fills()
    assert replayed.timing["retrains"] == 0 and replayed.model_ is None


@pytest.mark.slow
def test_exposes_model_history_and_timing_after_a_run(walk_run):
    assert isinstance(walk_run.model_, LSTMForecaster)
    assert walk_run.timing["retrains"] == len(walk_run.training_history) == 5
    first, second = walk_run.training_history[:2]
    assert not first["warm"] and second["warm"]
    assert len(first["loss"]) == len(first["val_loss"]) >= 1
    frame = walk_run.forecasts_frame()
    assert first["window_end"] == frame["datetime"].iloc[0]
    assert list(frame.columns) == ["datetime", "close", "predicted_close", "signal"]
    assert len(frame) == 400 - 128
    assert walk_run.timing["train_s"] > 0 and walk_run.timing["predict_s"] > 0


@pytest.mark.slow
def test_works_with_pandasdata_beside_another_strategy_and_analyzers(walk, walk_run):
    def extras(cerebro):
        cerebro.addstrategy(bt.strategies.MA_CrossOver)
        cerebro.addanalyzer(bt.analyzers.TradeAnalyzer, _name="trades")
        cerebro.addanalyzer(bt.analyzers.Returns, _name="returns")

    strategy = run(walk, extra=extras, **TINY)
    # A neighbour on the same broker changes sizes and cash, never what the model forecasts.
    pd.testing.assert_frame_equal(strategy.forecasts_frame(), walk_run.forecasts_frame())
    closed = [trade for trades in strategy._trades[strategy.data].values()
              for trade in trades if trade.isclosed]
    analysis = strategy.analyzers.trades.get_analysis()
    assert analysis["total"]["closed"] == len(closed) > 0
    assert analysis["pnl"]["net"]["total"] == pytest.approx(sum(t.pnlcomm for t in closed))
    # The analyzers measure the broker both strategies share.
    assert strategy.analyzers.returns.get_analysis()["rtot"] == pytest.approx(
        np.log(strategy.broker.getvalue() / CASH))


def test_start_marks_the_first_bar_with_a_forecast_or_an_order(walk):
    start = walk.index[200]
    strategy = run(walk, forecasts=replay_series(walk, np.full(len(walk), 0.01)),
                   start=start, **TINY)
    assert strategy.forecasts_frame()["datetime"].iloc[0] == start
    assert strategy.placed()[0][0] == start


def test_reads_a_generic_csv_feed(walk, tmp_path):
    path = tmp_path / "bars.csv"
    walk.reset_index()[["datetime", "open", "high", "low", "close", "volume"]].to_csv(
        path, index=False)
    feed = bt.feeds.GenericCSVData(dataname=str(path), dtformat="%Y-%m-%d %H:%M:%S",
                                   datetime=0, open=1, high=2, low=3, close=4, volume=5,
                                   openinterest=-1, timeframe=bt.TimeFrame.Minutes,
                                   compression=60)
    strategy = run(walk, feed=feed, forecasts=replay_series(walk, np.full(len(walk), 0.01)),
                   **TINY)
    assert len(strategy.forecasts_frame()) == 400 - 128


def test_all_in_trades_fractional_base_units(walk):
    strategy = run(walk, forecasts=replay_series(walk, np.full(len(walk), 0.01)), **TINY)
    (_, size), = strategy.placed()
    close = walk["close"].iloc[128]
    assert 0 < size < 1
    assert size == pytest.approx(0.95 * CASH / close)


@pytest.mark.parametrize("sizing, expected", [
    ("fixed", lambda close: 0.25),
    ("proportional", lambda close: 0.95 * min(1.0, 100 * 0.002) * CASH / close),
])
def test_fixed_and_proportional_sizes(walk, sizing, expected):
    strategy = run(walk, forecasts=replay_series(walk, np.full(len(walk), 0.002)),
                   sizing=sizing, stake=0.25, **TINY)
    first_size = strategy.placed()[0][1]
    assert first_size == pytest.approx(expected(walk["close"].iloc[128]))


def test_moves_between_the_exit_and_entry_thresholds_keep_the_position_larger_falls_exit_or_short(
        walk):
    moves = np.zeros(len(walk))
    moves[128] = 0.01  # long
    moves[129:140] = -0.0005  # between exit (-0.001) and entry (0.001): hold
    moves[140:] = -0.01  # beyond both: exit, or short
    forecasts = replay_series(walk, moves)
    symmetric = dict(threshold=0.001, exit_threshold=-0.001)
    long_only = run(walk, forecasts=forecasts, **symmetric, **TINY)
    signals = long_only.forecasts_frame()["signal"].to_numpy()
    assert list(signals[:12]) == [1] * 12 and set(signals[12:]) == {0}
    assert len(long_only.placed()) == 2 and long_only.getposition().size == 0
    shorting = run(walk, forecasts=forecasts, **symmetric, allow_short=True, **TINY)
    assert set(shorting.forecasts_frame()["signal"].to_numpy()[12:]) == {-1}
    assert shorting.getposition().size < 0


def _in_and_out(walk, first, held, leave, after):
    """Moves for every bar: `first` at bar 128, `held` for 6 bars, `leave` once, then `after`."""
    moves = np.full(len(walk), after)
    moves[128], moves[129:135], moves[135] = first, held, leave
    return replay_series(walk, moves)


def test_by_default_a_long_is_left_once_the_forecast_no_longer_predicts_a_rise(walk):
    # Entry 0.001; a smaller predicted rise keeps the long, the first predicted fall leaves it,
    # and the same small rise afterwards does not enter again.
    forecasts = _in_and_out(walk, 0.002, 0.0005, -0.0001, 0.0005)
    strategy = run(walk, forecasts=forecasts, threshold=0.001, **TINY)
    signals = strategy.forecasts_frame()["signal"].to_numpy()
    assert list(signals[:7]) == [1] * 7 and set(signals[7:]) == {0}
    (_, bought), (_, sold) = strategy.placed()
    assert bought > 0 and sold == -bought and strategy.getposition().size == 0


def test_a_short_is_covered_once_the_forecast_no_longer_predicts_a_fall(walk):
    forecasts = _in_and_out(walk, -0.002, -0.0005, 0.0001, -0.0005)
    strategy = run(walk, forecasts=forecasts, threshold=0.001, allow_short=True, **TINY)
    signals = strategy.forecasts_frame()["signal"].to_numpy()
    assert list(signals[:7]) == [-1] * 7 and set(signals[7:]) == {0}
    (_, sold), (_, bought) = strategy.placed()
    assert sold < 0 and bought == -sold and strategy.getposition().size == 0
    # Long only, the same predicted falls never enter.
    assert not run(walk, forecasts=forecasts, threshold=0.001, **TINY).placed()


def test_a_predicted_move_beyond_the_entry_threshold_turns_the_position_at_once(walk):
    forecasts = _in_and_out(walk, 0.002, 0.0005, -0.002, -0.0005)
    strategy = run(walk, forecasts=forecasts, threshold=0.001, allow_short=True, **TINY)
    signals = strategy.forecasts_frame()["signal"].to_numpy()
    assert list(signals[:7]) == [1] * 7 and set(signals[7:]) == {-1}
    (_, bought), (_, turned) = strategy.placed()
    assert turned < -bought < 0


def test_the_default_rule_enters_on_a_move_that_pays_a_round_trip_and_leaves_below_zero(walk):
    assert TRADING_DEFAULTS["threshold"] == "cost" and TRADING_DEFAULTS["exit_threshold"] == 0.0

    def costs(cerebro):
        cerebro.broker.setcommission(0.001)
        cerebro.broker.set_slippage_perc(0.0005)

    moves = np.full(len(walk), 0.0005)
    moves[128:131] = 0.0029  # below the round trip's cost, 2 x (0.001 + 0.0005): no entry
    moves[131] = 0.0031  # above it: long
    moves[132:135] = 0.0  # no predicted fall: hold
    moves[135] = -0.0001  # leave
    strategy = run(walk, forecasts=replay_series(walk, moves), extra=costs, **TINY)
    assert strategy.threshold_ == pytest.approx(0.003)
    signals = strategy.forecasts_frame()["signal"].to_numpy()
    assert list(signals[:8]) == [0, 0, 0, 1, 1, 1, 1, 0] and set(signals[8:]) == {0}
    assert len(strategy.placed()) == 2


@pytest.mark.parametrize("move, held, allow_short, exit_threshold, expected", [
    (0.0021, 0, False, 0.0, 1), (0.002, 0, False, 0.0, 0), (0.001, 1, False, 0.0, 1),
    (0.0, 1, False, 0.0, 1), (-0.0001, 1, False, 0.0, 0), (-0.01, 1, False, 0.0, 0),
    (-0.01, 1, True, 0.0, -1), (-0.001, 0, True, 0.0, 0), (-0.001, -1, True, 0.0, -1),
    (0.0001, -1, True, 0.0, 0), (0.0021, -1, True, 0.0, 1),
    # A negative exit threshold holds through small moves against the position.
    (-0.0005, 1, False, -0.001, 1), (-0.0015, 1, False, -0.001, 0),
    (0.0005, -1, True, -0.001, -1), (0.0015, -1, True, -0.001, 0),
    # A positive one leaves as soon as the predicted gain shrinks below it.
    (0.0005, 1, False, 0.001, 0), (-0.0005, -1, True, 0.001, 0),
])
def test_next_signal_enters_beyond_the_entry_and_leaves_beyond_the_exit_threshold(
        move, held, allow_short, exit_threshold, expected):
    assert next_signal(move, 0.002, exit_threshold, allow_short, held) == expected


def test_an_exit_threshold_above_the_resolved_cost_is_refused_when_the_run_starts(walk):
    with pytest.raises(InvalidParameter, match=r"`exit_threshold=0.003` above the entry "
                                               r"`threshold` \(0.002\)"):
        run(walk, forecasts=replay_series(walk, np.zeros(len(walk))), exit_threshold=0.003,
            extra=lambda cerebro: cerebro.broker.setcommission(0.001), **TINY)


def test_smooth_acts_on_the_mean_of_the_last_forecasts(walk):
    moves = np.where(np.arange(len(walk)) % 2, -0.004, 0.006)  # mean of any two: +0.001
    forecasts = replay_series(walk, moves)
    jittery = run(walk, forecasts=forecasts, **TINY).forecasts_frame()["signal"]
    smooth = run(walk, forecasts=forecasts, smooth=2, **TINY).forecasts_frame()["signal"]
    assert set(jittery) == {0, 1}
    assert set(smooth) == {1}


@pytest.mark.slow
def test_a_trained_walk_without_start_begins_after_its_first_window(walk, walk_run):
    first = walk_run.forecasts_frame()["datetime"].iloc[0]
    assert first == walk.index[128]  # train_window + seq_len bars of history before it


def test_a_replay_without_start_trades_from_the_bar_the_walk_starts_at(walk):
    first = walk.index[128]  # where the trained walk starts (the test above)
    replayed = run(walk, forecasts=replay_series(walk, np.full(len(walk), 0.01)), **TINY)
    assert replayed.forecasts_frame()["datetime"].iloc[0] == first
    assert replayed.measure_from == first


def test_a_run_that_reaches_no_tradable_bar_warns_that_it_never_traded(walk, caplog):
    forecasts = replay_series(walk, np.zeros(len(walk)))
    with caplog.at_level(logging.WARNING, logger="lstm_bt.strategies.lstm_strategy"):
        strat = run(walk, forecasts=forecasts, start="2030-01-01", **TINY)
    assert strat.forecasts_frame().empty and strat.measure_from is None
    assert ("Recording never traded: no bar had the 128 bars of history the first model needs "
            "(train_window + seq_len + input warm-up) before it and at or after start "
            "(2030-01-01 00:00:00); load more history or lower train_window.") in caplog.text


# Params that are wrong whatever the data, with the message that names them and the fix.
BAD_PARAMS = [
    ({"seq_len": 120}, r"`seq_len`.*fewer bars than `train_window` \(120\)"),
    ({"epochs": 0}, r"`epochs`, expected a positive integer, got 0"),
    ({"warm_epochs": -1}, r"`warm_epochs`"),
    ({"units": (0,)}, r"`units`, expected an integer in \[1, 4096\] \(each layer width in "
                      r"\(0,\)\), got 0"),
    ({"sizing": "allin"}, r"`sizing`.*Did you mean 'all_in'\?"),
    ({"threshold": -0.1}, r"`threshold`"),
    ({"exit_threshold": float("inf")}, r"`exit_threshold`, expected a finite number, got inf"),
    ({"exit_threshold": "zero"}, r"`exit_threshold`, expected a finite number, got 'zero'"),
    ({"threshold": 0.001, "exit_threshold": 0.002},
     r"`exit_threshold=0.002` above the entry `threshold` \(0.001\); pass an exit_threshold"),
    ({"fraction": 1.5}, r"`fraction`, expected a number in \(0.0, 1.0\]"),
    ({"smooth": 0}, r"`smooth`"),
    ({"features": "ohlc"}, r"`features`.*Did you mean 'ohlc_minmax'"),
    ({"input_warmup": -1},
     r"`input_warmup`, expected None or an integer in \[0, 1000000000\]"),
    ({"forecasts": [1.0, 2.0]}, r"`forecasts`, expected a pandas Series"),
    ({"start": "the first of May"}, r"`start`: .the first of May.\. Write a UTC date like 2024-01-01"),
]


@pytest.mark.parametrize("change, message", BAD_PARAMS + [
    ({"train_window": 500}, r"too little data for `train_window`.*508 bars.*there are 399"),
    ({"start": "2024-01-02"}, r"needs train_window \+ seq_len.*128 bars.*there are 24 before"),
])
def test_bad_params_raise_one_clear_error_before_any_training(walk, monkeypatch, change,
                                                              message):
    def no_training(self, bars):
        raise AssertionError("trained before validating")

    monkeypatch.setattr(LSTMForecaster, "fit", no_training)
    with pytest.raises(InvalidParameter, match=message):
        run(walk, **{**TINY, **change})


@pytest.mark.parametrize("change, message", BAD_PARAMS + [
    # backtrader's addstrategy passes unknown names on silently; check_params does not.
    ({"seq_lenght": 8}, r"no param 'seq_lenght'. Did you mean 'seq_len'\?"),
])
def test_check_params_refuses_bad_params_without_any_data(change, message):
    with pytest.raises(InvalidParameter, match=message):
        LSTMStrategy.check_params(**{**TINY, **change})


def test_check_params_returns_every_param_with_defaults_filled_in():
    checked = LSTMStrategy.check_params(**TINY)
    assert checked["seq_len"] == 8 and checked["sizing"] == "all_in"
    assert set(checked) == set(LSTMStrategy.params._getkeys())


class NeedsLookback(LSTMStrategy):
    """A subclass with a param of its own, checked the documented way."""

    params = (("lookback", 5),)

    @classmethod
    def check_params(cls, **params):
        checked = super().check_params(**params)
        if checked["lookback"] < 1:
            raise InvalidParameter("Received an invalid value for `lookback`, expected >= 1.")
        return checked


def test_a_subclass_check_runs_when_the_strategy_starts(walk):
    with pytest.raises(InvalidParameter, match="`lookback`"):
        run(walk, strategy=NeedsLookback, lookback=0,
            forecasts=replay_series(walk, np.zeros(len(walk))), **TINY)


@pytest.mark.parametrize("strategy, change, message", [
    (LSTMStrategy, {"seq_len": 120}, r"`seq_len`.*fewer bars than `train_window`"),
    (LSTMStrategy, {"sizing": "allin"}, r"`sizing`"),
    (NeedsLookback, {"lookback": 0}, r"`lookback`"),
])
def test_run_backtest_checks_params_before_reading_any_data(tmp_path, strategy, change,
                                                            message):
    from lstm_bt import run_backtest

    missing = tmp_path / "no-such-file.csv"  # reading it would raise DataError instead
    with pytest.raises(InvalidParameter, match=message):
        run_backtest(missing, strategy=strategy, **{**TINY, **change})


def test_replay_without_a_forecast_for_a_tradable_bar_is_refused(walk):
    forecasts = replay_series(walk, np.zeros(len(walk))).iloc[:300]
    with pytest.raises(InvalidParameter, match="`forecasts` without a forecast"):
        run(walk, forecasts=forecasts, **TINY)


def test_importing_the_strategy_does_not_import_tensorflow():
    import subprocess
    import sys

    code = ("import sys, lstm_bt, lstm_bt.strategies, lstm_bt.models; "
            "print('tensorflow' in sys.modules or 'keras' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
