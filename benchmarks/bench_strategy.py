"""How fast LSTMStrategy is: the reference backtest, per-bar forecasts, cold vs warm retrains.

Prints figures, asserts nothing. One command:

    .venv/bin/python benchmarks/bench_strategy.py [--csv PATH] [--start 2024-01-01]
        [--end 2025-01-01]

1. The reference backtest (BTCUSDT 1h, 2024, train_window 2000, seq_len 60, retrain_every
   168, default model): total time split into data loading, training, forecasting and
   everything else (backtrader, orders, features).
2. Per-bar forecast: the strategy's own cost per bar (reading lines, features, NumPy forward
   pass) against `model.predict` on one sequence, with the model of that same run.
3. One retrain three ways: cold with a rebuilt model (what the seeds do every window), cold
   reusing the compiled model (weights reset), warm (previous weights, `warm_epochs`).
"""

import argparse
import logging
import statistics
import time
from pathlib import Path

import backtrader as bt
import pandas as pd

from lstm_bt.binance.files import read_kline_file
from lstm_bt.models import LSTMForecaster, required_history
from lstm_bt.strategies import LSTMStrategy

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "btcusdt_1h_2022-2026_rest_raw.csv"
REFERENCE = dict(seq_len=60, train_window=2000, retrain_every=168)

logger = logging.getLogger("bench_strategy")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--csv", default=str(DATA))
    parser.add_argument("--start", default="2024-01-01")
    parser.add_argument("--end", default="2025-01-01")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    began = time.perf_counter()
    frame = load(args.csv, args.start, args.end)
    data_s = time.perf_counter() - began

    strategy, run_s = reference_run(frame, args.start)
    report_reference(strategy, run_s, data_s)
    report_per_bar(strategy, frame)
    report_retrains(strategy, frame)


def load(path, start, end):
    """Bars from `required_history` before `start` up to `end` (exclusive)."""
    frame = read_kline_file(path, interval="1h")
    first = frame.index.searchsorted(pd.Timestamp(start))
    history = required_history(REFERENCE["train_window"], REFERENCE["seq_len"])
    return frame.iloc[first - history:frame.index.searchsorted(pd.Timestamp(end))]


def reference_run(frame, start):
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(bt.feeds.PandasData(dataname=frame, timeframe=bt.TimeFrame.Minutes,
                                        compression=60))
    cerebro.broker.setcash(10_000.0)
    cerebro.broker.setcommission(commission=0.001)
    cerebro.addstrategy(LSTMStrategy, start=start, **REFERENCE)
    began = time.perf_counter()
    strategy = cerebro.run()[0]
    return strategy, time.perf_counter() - began


def report_reference(strategy, run_s, data_s):
    timing = strategy.timing
    other = run_s - timing["train_s"] - timing["predict_s"]
    bars = len(strategy.forecasts_frame())
    logger.info("reference backtest: %d tradable bars, %d retrains", bars, timing["retrains"])
    logger.info("  total %.1f s = data %.1f s + run %.1f s", data_s + run_s, data_s, run_s)
    logger.info("  run split: training %.1f s, forecasting %.2f s, everything else %.2f s",
                timing["train_s"], timing["predict_s"], other)
    logger.info("  non-training share of training time: %.0f %%",
                100 * (data_s + run_s - timing["train_s"]) / timing["train_s"])
    fits = [entry["fit_s"] for entry in strategy.training_history]
    epochs = [len(entry["loss"]) for entry in strategy.training_history]
    logger.info("  first (cold) fit %.2f s, %d epochs; warm fits median %.2f s, %.1f epochs",
                fits[0], epochs[0], statistics.median(fits[1:]), statistics.mean(epochs[1:]))


def report_per_bar(strategy, frame):
    forecaster = strategy.model_
    in_strategy_ms = 1000 * strategy.timing["predict_s"] / len(strategy.forecasts_frame())
    seq = forecaster.seq_len + 1
    bars = frame[["open", "high", "low", "close", "volume"]].to_numpy()
    windows = [bars[end - seq:end] for end in range(len(bars) - 300, len(bars))]
    numpy_ms = _per_call_ms(lambda w: forecaster.predict(w), windows)
    keras_ms = _per_call_ms(lambda w: forecaster.predict(w, engine="keras"), windows)
    logger.info("per-bar forecast (same model, same bars):")
    logger.info("  inside the strategy %.3f ms/bar (lines + features + NumPy forward)",
                in_strategy_ms)
    logger.info("  forecaster.predict (features + NumPy forward) %.3f ms; model.predict %.2f ms",
                numpy_ms, keras_ms)
    logger.info("  model.predict / in-strategy forecast = %.0fx", keras_ms / in_strategy_ms)


def report_retrains(strategy, frame):
    params = strategy.model_.get_params()
    size = REFERENCE["train_window"] + REFERENCE["seq_len"] + 1
    step = REFERENCE["retrain_every"]
    windows = [frame.iloc[i * step:i * step + size] for i in range(4)]

    rebuilt = [_timed(lambda w=w: LSTMForecaster(**params).fit(w)) for w in windows[1:]]
    reused = LSTMForecaster(**{**params, "warm_start": False}).fit(windows[0])
    cold = [_timed(lambda w=w: reused.fit(w)) for w in windows[1:]]
    warm_model = LSTMForecaster(**params).fit(windows[0])
    warm = [_timed(lambda w=w: warm_model.fit(w)) for w in windows[1:]]
    logger.info("one retrain (median of 3 windows of %d bars):", size)
    logger.info("  cold, rebuilt model    %.2f s", statistics.median(rebuilt))
    logger.info("  cold, compiled reused  %.2f s", statistics.median(cold))
    logger.info("  warm (%d epochs max)    %.2f s", params["warm_epochs"],
                statistics.median(warm))


def _timed(call):
    began = time.perf_counter()
    call()
    return time.perf_counter() - began


def _per_call_ms(call, windows):
    call(windows[0])  # the first call pays one-off tracing
    began = time.perf_counter()
    for window in windows:
        call(window)
    return 1000 * (time.perf_counter() - began) / len(windows)


if __name__ == "__main__":
    main()
