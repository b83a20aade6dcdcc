"""One check for integer arguments: every library argument that takes a whole number refuses a
bool, a float, text and a value out of range in the same words, naming the argument."""

import re

import numpy as np
import pytest

from lstm_bt.errors import InvalidParameter, check_int
from lstm_bt.stats.overfitting import pbo
from lstm_bt.strategies import LSTMStrategy
from lstm_bt.data.synthetic import random_walk

# (argument, how a call passes it, what the message says is expected)
INTEGER_ARGUMENTS = [
    ("train_window", lambda v: LSTMStrategy.check_params(train_window=v),
     "an integer in [1, 1000000000] (training samples)"),
    ("epochs", lambda v: LSTMStrategy.check_params(epochs=v), "a positive integer"),
    ("patience", lambda v: LSTMStrategy.check_params(patience=v), "an integer >= 0"),
    ("seed", lambda v: LSTMStrategy.check_params(seed=v), "an integer in [0, 4294967295] (e.g. 0)"),
    ("input_warmup", lambda v: LSTMStrategy.check_params(input_warmup=v),
     "None or an integer in [0, 1000000000] (bars before the extra inputs have values)"),
    ("smooth", lambda v: LSTMStrategy.check_params(smooth=v),
     "a positive integer (the number of forecasts to average)"),
    ("bars", lambda v: random_walk(v), "a positive integer"),
    ("n_splits", lambda v: pbo(np.zeros((100, 3)), n_splits=v),
     "an integer >= 2 (an even number of blocks)"),
]


@pytest.mark.parametrize("name, call, expected", INTEGER_ARGUMENTS,
                         ids=[case[0] for case in INTEGER_ARGUMENTS])
@pytest.mark.parametrize("bad", [True, 2.5, "3", -1])
def test_an_integer_argument_refuses_anything_but_an_integer_in_range(name, call, expected, bad):
    with pytest.raises(InvalidParameter, match=re.escape(
            f"Received an invalid value for `{name}`, expected {expected}, got {bad!r}.")):
        call(bad)


@pytest.mark.parametrize("name", ["train_window", "seq_len", "retrain_every", "input_warmup"])
def test_a_bar_count_is_at_most_a_billion(name):
    # 2**63 - 1 bars passed every check, then overflowed timestamps after a sweep wrote its
    # spec (issue 21).
    low = 0 if name == "input_warmup" else 1
    with pytest.raises(InvalidParameter, match=re.escape(
            f"`{name}`, expected {'None or ' * (name == 'input_warmup')}an integer in "
            f"[{low}, 1000000000]")):
        LSTMStrategy.check_params(**{name: 2**63 - 1})
    widest = {"train_window": 10**9, name: 10**9 - (name == "seq_len")}  # seq_len < window
    assert LSTMStrategy.check_params(**widest)[name] == widest[name]


@pytest.mark.parametrize("name, call, expected", INTEGER_ARGUMENTS[:4],
                         ids=[case[0] for case in INTEGER_ARGUMENTS[:4]])
def test_a_numpy_integer_is_an_integer(name, call, expected):
    checked = call(np.int64(130))  # every one takes 130 (train_window > the default seq_len)
    assert checked[name] == 130 and type(checked[name]) is int


@pytest.mark.parametrize("name", ["units", "dense_units"])
@pytest.mark.parametrize("bad", [True, 2.5, "3", 0, 4097, 2**40])
def test_a_layer_width_refuses_anything_but_an_integer_from_1_to_4096(name, bad):
    widths = (8, bad)
    with pytest.raises(InvalidParameter, match=re.escape(
            f"Received an invalid value for `{name}`, expected an integer in [1, 4096] (each "
            f"layer width in {widths!r}), got {bad!r}.")):
        LSTMStrategy.check_params(**{name: widths})


@pytest.mark.parametrize("name", ["units", "dense_units"])
def test_the_widest_layer_width_is_taken(name):
    assert LSTMStrategy.check_params(**{name: (4096, 1)})[name] == (4096, 1)


@pytest.mark.parametrize("name", ["units", "dense_units"])
def test_layer_widths_take_numpy_integers_and_keep_python_ints(name):
    widths = LSTMStrategy.check_params(**{name: [np.int64(16), np.int32(8)]})[name]

    assert widths == (16, 8) and all(type(width) is int for width in widths)


@pytest.mark.parametrize("widths", [8, "8", None, ()])
def test_units_is_a_sequence_of_at_least_one_width(widths):
    with pytest.raises(InvalidParameter, match=re.escape(
            f"Received an invalid value for `units`, expected a tuple of positive integers (at "
            f"least one LSTM layer), e.g. (64,) or (64, 32), got {widths!r}.")):
        LSTMStrategy.check_params(units=widths)


def test_a_seed_above_its_range_is_refused():
    with pytest.raises(InvalidParameter, match=re.escape(
            "`seed`, expected an integer in [0, 4294967295] (e.g. 0), got 4294967296.")):
        LSTMStrategy.check_params(seed=2**32)


def test_check_int_returns_a_python_int_and_lets_none_through_only_when_asked():
    assert type(check_int("n", np.int64(3))) is int
    assert check_int("n", None, none_ok=True) is None
    with pytest.raises(InvalidParameter, match=r"`n`, expected an integer >= 0, got None"):
        check_int("n", None)


def test_an_odd_number_of_blocks_is_refused_saying_why():
    with pytest.raises(InvalidParameter, match=r"`n_splits`, expected an even number of blocks "
                                               r"\(half in sample, half out\), got 5"):
        pbo(np.zeros((100, 3)), n_splits=5)


def test_a_sweeps_worker_count_is_kept_as_the_python_int_it_was_checked_as():
    from lstm_bt.sweeps import _check_target

    workers = _check_target(None, np.int64(2), None)
    assert workers == 2 and type(workers) is int
    assert _check_target(None, None, None) is None
