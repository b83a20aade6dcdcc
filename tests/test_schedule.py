"""The rolling schedule: which bars each model trains on and which bars it forecasts."""

import pytest

from lstm_bt.errors import InvalidParameter
from lstm_bt.models.schedule import (
    check_schedule_params,
    required_history,
    rolling_schedule,
    window_at,
)

CASES = [
    # n_bars, first_tradable, train_window, seq_len, retrain_every
    (100, 30, 20, 5, 25),
    (100, 25, 20, 5, 1),
    (100, 60, 20, 5, 7),
    (2000, 2060, 2000, 60, 168),  # nothing tradable: no window
    (10_844, 2060, 2000, 60, 168),
    (50, 12, 10, 2, 100),  # one window covers everything
]


def test_required_history_is_train_window_plus_seq_len():
    assert required_history(2000, 60) == 2060
    assert required_history(10, 3) == 13


@pytest.mark.parametrize("n_bars, first, train_window, seq_len, every", CASES)
def test_origins_cover_every_tradable_bar_once_in_order(n_bars, first, train_window, seq_len,
                                                         every):
    windows = rolling_schedule(n_bars, first, train_window, seq_len, every)
    origins = [bar for w in windows for bar in range(w.origin_start, w.origin_stop)]
    assert origins == list(range(first, n_bars))


@pytest.mark.parametrize("n_bars, first, train_window, seq_len, every", CASES)
def test_each_model_trains_on_bars_up_to_its_first_origin_only(n_bars, first, train_window,
                                                               seq_len, every):
    for window in rolling_schedule(n_bars, first, train_window, seq_len, every):
        # The window that forecasts bar fit_at + 1 ends at bar fit_at.
        assert window.fit_at == window.origin_start
        assert window.train_stop == window.fit_at + 1
        assert window.train_stop <= window.origin_start + 1
        # train_window samples, each with seq_len input bars and one close before them.
        assert window.train_stop - window.train_start == train_window + seq_len + 1
        assert window.train_start >= 0
        assert window.origin_stop - window.origin_start <= every


@pytest.mark.parametrize("n_bars, first, train_window, seq_len, every", CASES)
def test_window_at_agrees_with_the_listing(n_bars, first, train_window, seq_len, every):
    for window in rolling_schedule(n_bars, first, train_window, seq_len, every):
        for origin in range(window.origin_start, window.origin_stop):
            found = window_at(origin, first, train_window, seq_len, every)
            assert found._replace(origin_stop=window.origin_stop) == window


def test_retrains_every_retrain_every_bars_from_the_first_tradable_bar():
    windows = rolling_schedule(10_844, 2060, 2000, 60, 168)
    assert [w.fit_at for w in windows[:3]] == [2060, 2228, 2396]
    assert len(windows) == 53  # the reference backtest: 8784 bars of 2024, weekly retrains


def test_first_window_starts_at_the_first_bar_when_history_is_exactly_enough():
    window = rolling_schedule(100, required_history(20, 5), 20, 5, 10)[0]
    assert window.train_start == 0


def test_too_little_history_is_refused():
    with pytest.raises(InvalidParameter, match="at least 25 bars of history"):
        window_at(30, 24, 20, 5, 10)


def test_origin_before_the_first_tradable_bar_is_refused():
    with pytest.raises(InvalidParameter, match="origin"):
        window_at(29, 30, 20, 5, 10)


@pytest.mark.parametrize("train_window, seq_len, every, name", [
    (20, 20, 5, "seq_len"),
    (20, 30, 5, "seq_len"),
    (0, 5, 5, "train_window"),
    (20, 0, 5, "seq_len"),
    (20, 5, 0, "retrain_every"),
    (20, 5, 2.5, "retrain_every"),
])
def test_bad_schedule_params_name_the_param(train_window, seq_len, every, name):
    with pytest.raises(InvalidParameter, match=f"`{name}`"):
        check_schedule_params(train_window, seq_len, every)
