"""Which inputs forecast better on real klines: stationary returns or the seeds' MinMax OHLC?

Prints figures, asserts nothing. One command:

    .venv/bin/python benchmarks/bench_features.py [--start 2024-01-01] [--end 2025-01-01]

For each symbol (BTCUSDT, ETHUSDT 1h from ../shared/data) and each feature set, a walk-forward
with the reference schedule (train_window 2000, seq_len 60, retrain_every 168) and the
default model, driven by the same `rolling_schedule` the strategy uses (no backtrader, so it
is quicker). Scores over every forecast bar:

- hit rate: share of bars where the forecast's direction matches the next move (zero moves
  left out) and its one-sided binomial p-value against 0.5;
- RMSE of the predicted next close, and its ratio to persistence (next close = this close);
  a ratio above 1 means the forecast is worse than not forecasting at all;
- for context: the share of forecasts saying "up", the hit rate of always saying "up", and
  that of the reversal baseline ("the next move undoes the last one"), which a forecast that
  lags the price (predicts a recent average) imitates.
"""

import argparse
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from _common import REFERENCE as SCHEDULE
from _common import SHARED_DATA as DATA
from lstm_bt.binance.files import read_kline_file
from lstm_bt.models import FEATURE_SETS, LSTMForecaster, required_history, rolling_schedule

FILES = {"BTCUSDT": "btcusdt_1h_2022-2026_rest_raw.csv",
         "ETHUSDT": "ethusdt_1h_2022-2026_rest_raw.csv"}

logger = logging.getLogger("bench_features")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--start", default="2024-01-01")
    parser.add_argument("--end", default="2025-01-01")
    parser.add_argument("--data", default=str(DATA))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logger.info("%s to %s", args.start, args.end)
    logger.info("%-8s %-12s %6s %9s %9s %8s %6s %8s %8s %6s", "symbol", "features", "hit", "p",
                "rmse", "vs pers.", "says up", "always up", "reversal", "time")
    for symbol, name in FILES.items():
        frame = read_kline_file(Path(args.data) / name, interval="1h")
        first = frame.index.searchsorted(pd.Timestamp(args.start))
        stop = frame.index.searchsorted(pd.Timestamp(args.end))
        history = required_history(SCHEDULE["train_window"], SCHEDULE["seq_len"])
        frame = frame.iloc[first - history:stop]
        for features in FEATURE_SETS:
            began = time.perf_counter()
            predicted = walk_forward(frame, features, history)
            score = skill(frame["close"].to_numpy()[history:], predicted)
            logger.info("%-8s %-12s %6.3f %9.2g %9.2f %8.3f %6.3f %8.3f %8.3f %5.0fs", symbol,
                        features, *score, time.perf_counter() - began)


def walk_forward(frame, features, first_tradable):
    """Forecast of the next close at every bar from `first_tradable` on."""
    bars = frame[["open", "high", "low", "close", "volume"]].to_numpy()
    forecaster = LSTMForecaster(seq_len=SCHEDULE["seq_len"], features=features, seed=0)
    forecasts = []
    for window in rolling_schedule(len(bars), first_tradable, **SCHEDULE):
        forecaster.fit(bars[window.train_start:window.train_stop])
        inputs = bars[window.origin_start - SCHEDULE["seq_len"]:window.origin_stop]
        forecasts.append(forecaster.predict(inputs))
    return np.concatenate(forecasts)


def skill(closes, predicted):
    """The table's figures over every bar that has a next close."""
    now, after, guess = closes[:-1], closes[1:], predicted[:-1]
    actual = np.sign(after - now)
    moved = actual != 0
    hits = int((np.sign(guess - now) == actual)[moved].sum())
    n = int(moved.sum())
    rmse = float(np.sqrt(np.mean((guess - after) ** 2)))
    persistence = float(np.sqrt(np.mean((now - after) ** 2)))
    last_move = np.sign(np.diff(closes[:-1], prepend=np.nan))
    reversal = float((-last_move == actual)[moved].mean())
    return (hits / n, binomtest(hits, n, alternative="greater").pvalue, rmse,
            rmse / persistence, float(np.mean(guess > now)), float((actual > 0)[moved].mean()),
            reversal)


if __name__ == "__main__":
    main()
