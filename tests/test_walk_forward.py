"""WalkForward: one engine for the strategy and for runs without backtrader; a seed reproduces
it in any thread or process; model params are declared once; the library stays quiet."""

import json
import random
import subprocess
import sys
import threading
import textwrap
from datetime import datetime

import backtrader as bt
import numpy as np
import pandas as pd
import pytest

from lstm_bt import analyzers
from lstm_bt.cli.backend_noise import _NOISE as _BACKEND_NOISE
from lstm_bt.errors import InvalidParameter
from lstm_bt.run.forecast_cache import cache_key
from lstm_bt.models import LSTMForecaster, WalkForward
from lstm_bt.strategies import LSTMStrategy
from lstm_bt.data.synthetic import random_walk

pytestmark = pytest.mark.slow

TINY = dict(seq_len=8, train_window=120, retrain_every=60, units=(4,), epochs=2,
            warm_epochs=1, batch_size=32, learning_rate=0.01, seed=5)
START = datetime(2024, 1, 7)  # bar 144: enough history (128) before it


@pytest.fixture(scope="module")
def walk():
    return random_walk(330, seed=21)


@pytest.fixture(scope="module")
def standalone(walk):
    return WalkForward(**TINY).run(walk, start=START)


def strategy_run(frame, strategy=LSTMStrategy, start=START, commission=0.0, **params):
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(bt.feeds.PandasData(dataname=frame))
    cerebro.broker.setcommission(commission)
    cerebro.addstrategy(strategy, start=start, **{**TINY, **params})
    analyzers.add_all(cerebro)
    return cerebro.run()[0]


def test_the_strategy_and_the_standalone_walk_give_identical_forecasts(walk, standalone):
    strat = strategy_run(walk)
    ours = strat.forecasts_frame()[["datetime", "close", "predicted_close"]]
    pd.testing.assert_frame_equal(ours, standalone)
    assert ours["datetime"].iloc[0] == START
    assert strat.timing["retrains"] == 4 and len(strat.training_history) == 4


def test_the_standalone_walk_is_future_blind(walk, standalone):
    k = 200  # mid-window (fits at 144, 204, 264, 324)
    perturbed = walk.astype(float)
    perturbed.iloc[k + 1:] = (perturbed.iloc[k + 1:] * 1.7).to_numpy()
    again = WalkForward(**TINY).run(perturbed, start=START)
    upto = standalone["datetime"] <= walk.index[k]
    pd.testing.assert_frame_equal(standalone[upto], again[again["datetime"] <= walk.index[k]])
    assert not np.allclose(standalone["predicted_close"][~upto], again["predicted_close"][~upto])


def _forecasts_in_a_thread(walk, with_noise):
    result, stop = {}, threading.Event()

    def noise():
        while not stop.wait(0.0005):  # a draw every 0.5 ms, as a Dask worker's event loop might
            random.random()
            np.random.random()

    def work():
        result["frame"] = WalkForward(**TINY).run(walk, start=START)

    noisy = threading.Thread(target=noise, daemon=True)
    if with_noise:
        noisy.start()
    worker = threading.Thread(target=work)
    worker.start()
    worker.join()
    stop.set()
    return result["frame"]


@pytest.mark.parametrize("with_noise", [False, True], ids=["thread", "thread-beside-random-draws"])
def test_a_seed_reproduces_the_walk_in_another_thread(walk, standalone, with_noise):
    pd.testing.assert_frame_equal(_forecasts_in_a_thread(walk, with_noise), standalone)


def test_a_seed_reproduces_the_walk_twice_in_one_thread_and_another_seed_differs(walk,
                                                                                 standalone):
    pd.testing.assert_frame_equal(WalkForward(**TINY).run(walk, start=START), standalone)
    other = WalkForward(**{**TINY, "seed": 6}).run(walk, start=START)
    assert not np.array_equal(other["predicted_close"], standalone["predicted_close"])


def test_a_seed_reproduces_the_walk_in_another_process(walk, standalone, tmp_path):
    walk.to_pickle(tmp_path / "walk.pkl")
    code = textwrap.dedent(f"""
        import pandas as pd, random, numpy as np
        random.seed(123); np.random.seed(123)  # a process whose global state differs
        from lstm_bt.models import WalkForward
        frame = WalkForward(**{TINY!r}).run(pd.read_pickle({str(tmp_path / 'walk.pkl')!r}),
                                            start={START.isoformat()!r})
        print(frame["predicted_close"].to_json(orient="values", double_precision=15))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    # Stored the walk's forecasts bit for bit: compare the exact float64 values.
    theirs = np.array(json.loads(done.stdout.strip().splitlines()[-1]))
    assert np.array_equal(theirs.round(9), standalone["predicted_close"].to_numpy().round(9))
    # lstm-bt prints nothing on stderr from Python; the backend's own start-up lines are
    # the caller's to keep or filter (the command filters them in its own process).
    assert all(_BACKEND_NOISE.match(line.encode()) for line in done.stderr.splitlines()
               if line.strip()), done.stderr


def test_model_params_are_declared_once_by_the_forecaster():
    model = LSTMForecaster.param_defaults()
    walk = WalkForward.param_defaults()
    strategy = dict(LSTMStrategy.params._getitems())
    assert walk.items() >= model.items()
    assert strategy.items() >= walk.items()
    assert set(strategy) == set(walk) | set(LSTMStrategy.trading_params) | {"start", "forecasts"}


class WithStop(LSTMStrategy):
    """A subclass with one trading param of its own and one param that may shape inputs."""

    params = (("stop", 0.05), ("rsi_period", 14))
    trading_params = LSTMStrategy.trading_params + ("stop",)


@pytest.mark.parametrize("strategy, change, retrains", [
    (WithStop, {"stop": 0.1}, False),
    (WithStop, {"rsi_period": 7}, True),
    (LSTMStrategy, {"threshold": 0.01}, False),
    (LSTMStrategy, {"epochs": 3}, True),
])
def test_the_cache_key_follows_the_strategys_trading_params(walk, strategy, change, retrains):
    base = strategy.check_params(**TINY)
    for name in ("start", "forecasts", "seed"):
        base.pop(name)
    key = cache_key(walk, strategy, base, 0, START, "tensorflow")
    changed = cache_key(walk, strategy, {**base, **change}, 0, START, "tensorflow")
    assert (key != changed) is retrains


def test_analyzers_measure_from_the_strategys_start_passed_once(walk, standalone):
    strat = strategy_run(walk, forecasts=standalone.set_index("datetime")["predicted_close"])
    equity = strat.analyzers.equity.get_analysis()
    assert equity["datetime"][0] == START
    assert strat.analyzers.metrics.get_analysis()["final_value"] is not None


def test_without_start_the_analyzers_measure_from_the_first_tradable_bar(walk):
    strat = strategy_run(walk, start=None)
    first = strat.forecasts_frame()["datetime"].iloc[0]
    assert first == walk.index[128]  # train_window + seq_len bars of history before it
    assert strat.analyzers.equity.get_analysis()["datetime"][0] == first


@pytest.mark.parametrize("commission, slippage, expected", [(0.001, 0.0, 0.002),
                                                            (0.001, 0.0005, 0.003)])
def test_the_default_threshold_covers_a_round_trips_cost(walk, standalone, commission, slippage,
                                                         expected):
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(bt.feeds.PandasData(dataname=walk))
    cerebro.broker.setcommission(commission)
    cerebro.broker.set_slippage_perc(slippage)
    forecasts = standalone.set_index("datetime")["predicted_close"]
    cerebro.addstrategy(LSTMStrategy, start=START, forecasts=forecasts, **TINY)
    strat = cerebro.run()[0]
    assert strat.threshold_ == pytest.approx(expected)
    frame = strat.forecasts_frame()
    moves = frame["predicted_close"] / frame["close"] - 1
    # A long is entered only where the predicted move clears the threshold, and left only
    # where it falls below the exit threshold (0 by default).
    before = frame["signal"].shift(fill_value=0)
    entered = frame["signal"].eq(1) & before.ne(1)
    left = frame["signal"].eq(0) & before.eq(1)
    assert entered.any() and left.any()
    assert (moves[entered] > expected).all() and (moves[left] < 0).all()
    held = frame["signal"].eq(1) & ~entered
    assert (moves[held] >= 0).all()


@pytest.mark.parametrize("broker_setting", ["set_slippage_fixed", "fixed_fee"])
def test_the_default_threshold_refuses_a_cost_that_is_no_fraction(walk, standalone,
                                                                 broker_setting):
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(bt.feeds.PandasData(dataname=walk))
    if broker_setting == "fixed_fee":
        cerebro.broker.setcommission(commission=2.0, commtype=bt.CommInfoBase.COMM_FIXED)
    else:
        cerebro.broker.set_slippage_fixed(5.0)
    forecasts = standalone.set_index("datetime")["predicted_close"]
    cerebro.addstrategy(LSTMStrategy, start=START, forecasts=forecasts, **TINY)
    name = "commission" if broker_setting == "fixed_fee" else "slippage"
    with pytest.raises(InvalidParameter, match=f"broker {name} that is not a fraction"):
        cerebro.run()


def test_a_tz_aware_frame_and_millisecond_bar_times_work_and_replay(walk, standalone):
    aware = walk.tz_localize("UTC")
    again = WalkForward(**TINY).run(aware, start=START)
    pd.testing.assert_frame_equal(again, standalone)
    from lstm_bt.models import ReplayedForecasts

    shifted = standalone.set_index("datetime")["predicted_close"]
    shifted.index = shifted.index + pd.Timedelta(microseconds=3)  # float-date drift
    replay = ReplayedForecasts(shifted)
    replay.begin(0)
    assert replay.forecast(0, START, None) == standalone["predicted_close"].iloc[0]


def test_a_replay_rounds_bar_times_to_the_millisecond_as_pandas_does():
    """Ties to the even millisecond, carries into the next second, day and year."""
    from datetime import datetime, timedelta

    from lstm_bt.models.walk_forward import _to_millisecond

    rng = np.random.default_rng(0)
    micros = [0, 1, 499, 500, 501, 999, 1000, 1499, 1500, 1501, 2500, 3500, 998500, 999499,
              999500, 999501, 999999, *rng.integers(0, 1_000_000, 300)]
    for base in (datetime(2024, 3, 5, 7, 8, 9), datetime(2024, 12, 31, 23, 59, 59),
                 datetime(1969, 12, 31, 23, 59, 58)):
        for micro in micros:
            when = base + timedelta(microseconds=int(micro))
            assert _to_millisecond(when) == pd.Timestamp(when).round("ms").to_pydatetime(), when


@pytest.mark.parametrize("value", [None, [1.0, 2.0], pd.DataFrame({"x": [1.0]})])
def test_replayed_forecasts_are_built_from_a_series_only(value):
    from lstm_bt.models import ReplayedForecasts

    with pytest.raises(InvalidParameter, match=r"`forecasts`, expected a pandas Series"):
        ReplayedForecasts(value)


def test_one_replay_shared_by_two_strategies_keeps_a_start_of_its_own_in_each(walk):
    from lstm_bt.models import ReplayedForecasts

    shared = ReplayedForecasts(pd.Series(walk["close"].to_numpy() * 1.001, index=walk.index))
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(bt.feeds.PandasData(dataname=walk))
    for start in (START, None):
        cerebro.addstrategy(LSTMStrategy, start=start, forecasts=shared, **TINY)
    from_start, from_history = cerebro.run()
    first_without_start = walk.index[128]  # train_window + seq_len bars before it
    for strategy, first in ((from_start, START), (from_history, first_without_start)):
        assert strategy.forecasts_frame()["datetime"].iloc[0] == first
        assert strategy.measure_from == first
    assert shared.first_tradable is None  # the given replay itself never ran


def test_an_empty_frame_is_refused_as_too_little_data(walk):
    with pytest.raises(InvalidParameter,
                       match=r"too little data.*there are 0 \(the data has 0 bars\)"):
        WalkForward(**TINY).run(walk.iloc[:0])


def test_extra_inputs_must_have_one_row_per_bar(walk):
    with pytest.raises(InvalidParameter, match=r"`extra_inputs` with 329 rows for 330 bars; "
                                               r"pass one row per bar"):
        WalkForward(**TINY).run(walk, start=START, extra_inputs=np.zeros(len(walk) - 1))
