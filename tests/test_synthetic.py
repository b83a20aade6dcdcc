import numpy as np
import pytest

from lstm_bt.errors import InvalidParameter
from lstm_bt.data.kline_frame import COLUMNS
from lstm_bt.data.synthetic import ar1_returns, random_walk


@pytest.mark.parametrize("make", [random_walk, ar1_returns])
def test_synthetic_series_are_valid_ohlcv_and_deterministic(make):
    frame = make(500, seed=3)
    assert list(frame.columns) == list(COLUMNS)
    assert frame.index.is_monotonic_increasing and frame.index.is_unique
    assert (frame.high >= frame[["open", "close"]].max(axis=1)).all()
    assert (frame.low <= frame[["open", "close"]].min(axis=1)).all()
    assert (frame.low > 0).all()
    assert frame.equals(make(500, seed=3))
    assert not frame.equals(make(500, seed=4))


def _lag_one_autocorrelation(frame):
    r = np.diff(np.log(frame.close.to_numpy()))
    return np.corrcoef(r[1:], r[:-1])[0, 1]


def test_ar1_returns_carry_the_asked_autocorrelation_and_the_walk_none():
    assert _lag_one_autocorrelation(ar1_returns(20_000, phi=0.3, seed=1)) == pytest.approx(0.3, abs=0.03)
    assert _lag_one_autocorrelation(random_walk(20_000, seed=1)) == pytest.approx(0.0, abs=0.03)


def test_bad_synthetic_arguments_name_the_argument():
    with pytest.raises(InvalidParameter, match="`bars`"):
        random_walk(0)
    with pytest.raises(InvalidParameter, match="`phi`"):
        ar1_returns(100, phi=1.0)
