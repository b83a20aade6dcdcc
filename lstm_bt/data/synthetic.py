"""Synthetic kline frames by seed: `random_walk` (nothing to learn), `ar1_returns` (learnable)."""

import numpy as np
import pandas as pd

from ..errors import InvalidParameter, check_int
from .intervals import get_interval
from .kline_frame import COLUMNS

__all__ = ["random_walk", "ar1_returns"]


def random_walk(bars=2000, *, interval="1h", start="2024-01-01", price=30_000.0,
                volatility=0.01, drift=0.0, seed=0):
    """A geometric random walk: i.i.d. normal log returns.

    Args:
        bars: number of bars. Defaults to `2000`.
        interval: Binance interval name, the bar spacing. Defaults to `"1h"`.
        start: open time of the first bar (UTC). Defaults to `"2024-01-01"`.
        price: first open. Defaults to `30000.0`.
        volatility: standard deviation of the per-bar log return. Defaults to `0.01`.
        drift: mean per-bar log return. Defaults to `0.0`.
        seed: random seed. Defaults to `0`.
    """
    rng = np.random.default_rng(seed)
    log_returns = drift + volatility * rng.standard_normal(check_int("bars", bars, low=1))
    return _ohlcv(log_returns, interval, start, price, volatility, rng)


def ar1_returns(bars=2000, *, phi=0.3, interval="1h", start="2024-01-01", price=30_000.0,
                volatility=0.01, seed=0):
    """A price whose log returns follow r_t = phi * r_(t-1) + noise.

    Args:
        phi: autocorrelation of consecutive returns, in (-1, 1). Defaults to `0.3`.
        volatility: stationary standard deviation of the log return. Defaults to `0.01`.
        bars, interval, start, price, seed: as for `random_walk`.
    """
    if not -1 < phi < 1:
        raise InvalidParameter(
            f"Received an invalid value for `phi`, expected a number in (-1, 1) "
            f"(a stationary AR(1)), got {phi!r}."
        )
    rng = np.random.default_rng(seed)
    noise = volatility * np.sqrt(1 - phi**2) * rng.standard_normal(check_int("bars", bars, low=1))
    log_returns = np.empty_like(noise)
    previous = 0.0
    for i, shock in enumerate(noise):
        previous = phi * previous + shock
        log_returns[i] = previous
    return _ohlcv(log_returns, interval, start, price, volatility, rng)


def _ohlcv(log_returns, interval, start, price, volatility, rng):
    """Bars from log returns: open = previous close, wicks beyond the body."""
    step = get_interval(interval)
    closes = price * np.exp(np.cumsum(log_returns))
    opens = np.concatenate(([price], closes[:-1]))
    wick = volatility * np.abs(rng.standard_normal((2, len(closes)))) * 0.5
    highs = np.maximum(opens, closes) * np.exp(wick[0])
    lows = np.minimum(opens, closes) * np.exp(-wick[1])
    volume = rng.lognormal(mean=3.0, sigma=0.5, size=len(closes))
    typical = (highs + lows + closes) / 3
    taker_share = rng.uniform(0.4, 0.6, size=len(closes))
    first_open_ms = int(pd.Timestamp(start).timestamp() * 1000)
    open_ms = [first_open_ms]
    for _ in range(len(closes) - 1):
        open_ms.append(step.next_open(open_ms[-1]))
    index = pd.DatetimeIndex(pd.to_datetime(open_ms, unit="ms"), name="datetime")
    frame = pd.DataFrame(
        {
            "open": opens,
            "high": highs,
            "low": lows,
            "close": closes,
            "volume": volume,
            "quote_volume": volume * typical,
            "trades": np.round(volume * 40).astype(np.int64),
            "taker_buy_base_volume": volume * taker_share,
            "taker_buy_quote_volume": volume * taker_share * typical,
        },
        index=index,
    )
    return frame[list(COLUMNS)]
