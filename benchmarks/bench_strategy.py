"""How fast an LSTM walk-forward is, against the naive way and against a plain strategy.

Prints figures, asserts nothing. One command per scenario (or `all`, the order below):

    .venv/bin/python benchmarks/bench_strategy.py reference [--repeat 3] [--seed 0]
    .venv/bin/python benchmarks/bench_strategy.py naive [--naive-windows 4]
    .venv/bin/python benchmarks/bench_strategy.py per-bar
    .venv/bin/python benchmarks/bench_strategy.py overhead
    .venv/bin/python benchmarks/bench_strategy.py rerun
    .venv/bin/python benchmarks/bench_strategy.py retrain
    .venv/bin/python benchmarks/bench_strategy.py all
    .venv/bin/python benchmarks/bench_strategy.py memory [--fits 200] [--kind warm] [--malloc-trim]
    .venv/bin/python benchmarks/bench_strategy.py fit-cost [--op-determinism off]

Prefix `KERAS_BACKEND=jax` (or `torch`) to measure another Keras backend.

(a) reference: `run_backtest` on BTCUSDT 1h from ../shared/data, 2024-01-01 to 2025-01-01,
    train_window 2000, seq_len 60, retrain_every 168, default model, cache off; total time split
    into data (loading and cutting the CSV), training, forecasting and engine (everything else:
    backtrader, orders, analyzers, reading lines); peak RSS and RSS after every retrain.
(b) naive: the same schedule the tutorials' way, a freshly built model trained cold every
    window and `model.predict` once a bar, no backtrader; timed on the first `--naive-windows`
    windows and extrapolated to all of them (it would take a quarter of an hour otherwise).
(c) per-bar: one forecast through `LSTMForecaster.predict_next` (features + forward pass: the
    backend's compiled one under JAX, NumPy otherwise) and through the NumPy pass, against
    `model.predict` on the same sequence, and the strategy's own cost per bar from (a).
(d) overhead: LSTMStrategy replaying (a)'s forecasts (no training, no forecasting: its trading
    logic only) against a plain SMA-crossover strategy, same feed, same bare cerebro.
(e) rerun: `run_backtest` with the forecast cache, first run (miss) against re-runs with only
    `threshold`/`sizing` changed (hit), and a hit with the first run's params: same trades?
retrain: one retrain three ways: cold with a rebuilt model, cold reusing the compiled model,
    warm (previous weights, `warm_epochs`).
fit-cost (not part of `all`): what a warm fit costs beyond its gradient steps, on one
    reference-sized window: `LSTMForecaster.fit` (warm), against the same 3 epochs through
    `model.fit` (Keras' input pipeline, `steps_per_execution` 64, no callbacks), through
    `train_on_batch` per batch, (JAX) through one jitted call an epoch (`training_steps`), and
    (TensorFlow) through a `tf.GradientTape` step in a `tf.function`, called per batch or once
    per epoch. `--op-determinism off` (for information:
    the library always turns it on) leaves TensorFlow's op determinism off.
memory (not part of `all`, several minutes): RSS every 20 fits of one forecaster refitted on
    successive reference-sized windows of synthetic AR(1) bars, warm then cold, to tell growth
    that goes on from growth that levels off; `--malloc-trim` returns glibc's free memory to
    the system after every fit (prefix `MALLOC_ARENA_MAX=2` to cap glibc's arenas).
"""

import argparse
import logging
import os
import tempfile
import warnings

import numpy as np

from _common import (OHLCV, REFERENCE, REFERENCE_CSV, REFERENCE_DATES, machine, median,
                     peak_rss_mb, rss_mb, timed)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore", message=".*missing 1h bars.*")

SCENARIOS = ("reference", "naive", "per-bar", "overhead", "rerun", "retrain")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("scenario", choices=SCENARIOS + ("all", "memory", "fit-cost"))
    parser.add_argument("--csv", default=str(REFERENCE_CSV))
    parser.add_argument("--repeat", type=int, default=3, help="runs of (a) to take the median")
    parser.add_argument("--seed", type=int, default=0, help="reference: the model's seed")
    parser.add_argument("--naive-windows", type=int, default=4,
                        help="windows of (b) actually run")
    parser.add_argument("--windows", type=int, default=8,
                        help="retrain: windows each kind of fit is timed on")
    parser.add_argument("--fits", type=int, default=200, help="refits of each kind in memory")
    parser.add_argument("--kind", choices=("both", "warm", "cold"), default="both",
                        help="memory: which refits to run")
    parser.add_argument("--op-determinism", choices=("on", "off"), default="on",
                        help="fit-cost: TensorFlow's op determinism (always on in the library)")
    parser.add_argument("--malloc-trim", action="store_true",
                        help="memory: call glibc's malloc_trim(0) after every fit")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print(machine())
    scenarios = SCENARIOS if args.scenario == "all" else (args.scenario,)
    bench = Bench(args)
    for name in scenarios:
        getattr(bench, name.replace("-", "_"))()


class Bench:
    """Runs the scenarios; (a) runs once at most and the others reuse it."""

    def __init__(self, args):
        self.args = args
        self._reference = None

    def load(self):
        """The reference bars (warm-up included), as the runner loads them."""
        from lstm_bt.run.backtest_data import load_backtest_data
        from lstm_bt.models import required_history

        return load_backtest_data(self.args.csv, interval="1h", **REFERENCE_DATES,
                                  history=required_history(REFERENCE["train_window"],
                                                           REFERENCE["seq_len"]))

    def run(self, strategy=None, **options):
        from lstm_bt import run_backtest
        from lstm_bt.strategies import LSTMStrategy

        return run_backtest(self.args.csv, interval="1h", **REFERENCE_DATES, **REFERENCE,
                            strategy=strategy or LSTMStrategy, **options)

    def reference_runs(self):
        if self._reference is None:
            _, data_s = timed(self.load)
            runs = [timed(lambda: self.run(strategy=_memory_recording(), cache=False,
                                           seed=self.args.seed))
                    for _ in range(self.args.repeat)]
            self._reference = data_s, runs
        return self._reference

    def reference(self):
        data_s, runs = self.reference_runs()
        print(f"\n(a) reference backtest, BTCUSDT 1h 2024, seed {self.args.seed}, median of "
              f"{len(runs)} runs")
        rows = []
        for result, total in runs:
            timing = result.report["timing"]
            rows.append((total, data_s, timing["train_s"], timing["predict_s"],
                         total - data_s - timing["train_s"] - timing["predict_s"]))
        total, data, train, predict, engine = (median(column) for column in zip(*rows))
        result = runs[0][0]
        print(f"  {result.report['data']['bars']} bars, {result.report['timing']['retrains']} "
              f"retrains; runs: {', '.join(f'{row[0]:.1f}' for row in rows)} s")
        print(f"  total {total:.1f} s = training {train:.1f} + forecasting {predict:.2f} + "
              f"data {data:.2f} + engine {engine:.2f}")
        print(f"  not training: {total - train:.1f} s = {100 * (total - train) / train:.0f} % "
              f"of training time")
        history = result.strategy.training_history
        fits = [entry["fit_s"] for entry in history]
        print(f"  first (cold) fit {fits[0]:.2f} s, {len(history[0]['loss'])} epochs; warm fits "
              f"median {median(fits[1:]):.2f} s, "
              f"{np.mean([len(entry['loss']) for entry in history[1:]]):.1f} epochs")
        forecast = result.report["forecast"]
        print(f"  model quality: hit rate {forecast['hit_rate']:.4f} (p {forecast['p_value']:.2g}"
              f", n {forecast['n']}), rmse {forecast['rmse']:.2f}; mean over fits of the last "
              f"loss {np.mean([entry['loss'][-1] for entry in history]):.4f}, of the best "
              f"val_loss {np.mean([min(entry['val_loss']) for entry in history]):.4f}")
        same = all(run.forecasts.equals(runs[0][0].forecasts) for run, _ in runs)
        print(f"  identical forecasts across the {len(runs)} runs (same seed): "
              f"{'yes' if same else 'NO'}")
        rss = result.strategy.rss_after_fit
        print(f"  peak RSS {peak_rss_mb():.0f} MB; RSS after retrain 1 / 2 / median / last: "
              f"{rss[0]:.0f} / {rss[1]:.0f} / {median(rss):.0f} / {rss[-1]:.0f} MB; "
              f"growth from retrain 2 to last {(rss[-1] - rss[1]) / (len(rss) - 2):+.2f} MB "
              f"per window")

    def naive(self):
        from lstm_bt.models import LSTMForecaster, rolling_schedule

        data_s, runs = self.reference_runs()
        reference_s = median([total for _, total in runs])
        bars = self.load()
        ohlcv = bars.frame[OHLCV].to_numpy()
        windows = rolling_schedule(len(ohlcv), bars.history, **REFERENCE)
        seq_len = REFERENCE["seq_len"]
        per_window, fit_times, predict_times = [], [], []
        for window in windows[:self.args.naive_windows]:
            model = LSTMForecaster(seq_len=seq_len, warm_start=False, seed=0)
            _, fit_s = timed(lambda: model.fit(ohlcv[window.train_start:window.train_stop]))
            origins = range(window.origin_start, window.origin_stop)
            _, predict_s = timed(lambda: [
                model.predict(ohlcv[t - seq_len:t + 1], engine="keras") for t in origins])
            per_window.append(fit_s + predict_s)
            fit_times.append(fit_s)
            predict_times.append(predict_s / len(origins))
        estimate = data_s + median(per_window) * len(windows)
        print(f"\n(b) naive walk-forward (fresh model, cold fit every window, model.predict "
              f"per bar; no backtrader), {len(per_window)} of {len(windows)} windows run")
        print(f"  per window: cold fit median {median(fit_times):.2f} s, model.predict "
              f"{1000 * median(predict_times):.1f} ms/bar, window {median(per_window):.1f} s")
        print(f"  extrapolated to {len(windows)} windows: {estimate:.0f} s; (a) median "
              f"{reference_s:.1f} s; (a) is {estimate / reference_s:.1f}x faster")

    def per_bar(self):
        from lstm_bt.models import LSTMForecaster

        bars = self.load()
        ohlcv = bars.frame[OHLCV].to_numpy()
        seq = REFERENCE["seq_len"] + 1
        model = LSTMForecaster(seq_len=REFERENCE["seq_len"], seed=0).fit(
            ohlcv[:bars.history + 1])
        ends = range(len(ohlcv) - 300, len(ohlcv))
        next_ms = _per_call_ms(lambda end: model.predict_next(ohlcv[end - seq:end]), ends)
        numpy_ms = _per_call_ms(
            lambda end: model.predict(ohlcv[end - seq:end], engine="numpy"), ends)
        keras_ms = _per_call_ms(
            lambda end: model.predict(ohlcv[end - seq:end], engine="keras"), ends)
        print("\n(c) per-bar forecast, same model, same 300 bars")
        print(f"  predict_next {next_ms:.3f} ms (NumPy pass {numpy_ms:.3f} ms); model.predict "
              f"{keras_ms:.2f} ms: predict_next {keras_ms / next_ms:.0f}x cheaper")
        if self._reference is not None:
            result = self._reference[1][0][0]
            ms = 1000 * result.report["timing"]["predict_s"] / len(result.forecasts)
            print(f"  inside the strategy in (a) (reading lines + the above) {ms:.3f} ms/bar: "
                  f"{keras_ms / ms:.0f}x cheaper than model.predict")

    def overhead(self):
        import backtrader as bt

        from lstm_bt.strategies import LSTMStrategy

        bars = self.load()
        data_s, runs = self.reference_runs()
        forecasts = runs[0][0].forecasts["predicted_close"]
        cases = {"SMA crossover (10/30)": (_sma_cross(), {}),
                 "LSTMStrategy replaying (a)'s forecasts": (
                     LSTMStrategy, {**REFERENCE, "start": bars.start, "forecasts": forecasts})}
        print(f"\n(d) strategy overhead per bar, bare cerebro, {len(bars.frame)} bars, "
              f"median of 3")
        per_bar = {}
        for label, (strategy, params) in cases.items():
            per_bar[label] = median([_bare_run(bt, bars, strategy, params)
                                     for _ in range(3)]) / len(bars.frame)
            print(f"  {label:<40} {1e6 * per_bar[label]:7.1f} us/bar")
        sma, lstm = per_bar.values()
        result, _ = runs[0]
        timing = result.report["timing"]
        forecast_us = 1e6 * timing["predict_s"] / len(result.forecasts)
        print(f"  LSTMStrategy trading logic costs {1e6 * (lstm - sma):+.1f} us/bar against "
              f"SMA ({lstm / sma:.2f}x); with its forecast ({forecast_us:.0f} us/bar) "
              f"{(lstm + forecast_us / 1e6) / sma:.2f}x")

    def rerun(self):
        with tempfile.TemporaryDirectory() as data_dir:
            first, first_s = timed(lambda: self.run(data_dir=data_dir))
            changed = [timed(lambda t=t: self.run(data_dir=data_dir, threshold=t,
                                                 sizing="proportional"))
                       for t in (0.0005, 0.001, 0.002)]
            same, same_s = timed(lambda: self.run(data_dir=data_dir))
        rerun_s = median([seconds for _, seconds in changed])
        print("\n(e) re-run with only threshold/sizing changed (forecast cache)")
        print(f"  first run ({first.report['timing']['cache']}) {first_s:.1f} s; re-runs "
              f"({', '.join(run.report['timing']['cache'] for run, _ in changed)}) median "
              f"{rerun_s:.2f} s: {first_s / rerun_s:.0f}x faster")
        identical = (same.trades.equals(first.trades) and same.forecasts.equals(first.forecasts)
                     and same.equity.equals(first.equity))
        print(f"  re-run with the first run's params ({same.report['timing']['cache']}, "
              f"{same_s:.2f} s): identical trades, forecasts and equity: "
              f"{'yes' if identical else 'NO'} ({len(first.trades)} trades)")

    def retrain(self):
        from lstm_bt.models import LSTMForecaster

        ohlcv = self.load().frame[OHLCV].to_numpy()
        size = REFERENCE["train_window"] + REFERENCE["seq_len"] + 1
        step = REFERENCE["retrain_every"]
        windows = [ohlcv[i * step:i * step + size] for i in range(self.args.windows + 1)]
        params = {"seq_len": REFERENCE["seq_len"], "seed": 0}

        def fits(model, kind):
            """Seconds and epochs of fitting `model` on every window but the first."""
            runs = []
            for window in windows[1:]:
                seconds = timed(lambda w=window: model.fit(w))[1]
                runs.append((seconds, len(model.history_["loss"])))
            seconds, epochs = zip(*runs)
            return (f"{kind} {median(seconds):.2f} s ({median(epochs):.0f} epochs, "
                    f"{median([s / e for s, e in runs]) * 1000:.0f} ms an epoch)")

        rebuilt = [timed(lambda w=w: LSTMForecaster(**params).fit(w))[1] for w in windows[1:4]]
        cold = fits(LSTMForecaster(**params, warm_start=False).fit(windows[0]),
                    "cold, compiled model reused")
        warm_model = LSTMForecaster(**params).fit(windows[0])
        warm = fits(warm_model, f"warm ({warm_model.warm_epochs} epochs max)")
        print(f"\nretrain: one fit of {size} bars, median of {len(windows) - 1} windows "
              f"(rebuilt: 3)")
        print(f"  cold, rebuilt model {median(rebuilt):.2f} s; {cold}; {warm}")

    def fit_cost(self):
        import keras

        from lstm_bt.models import LSTMForecaster, backend, training_steps

        if self.args.op_determinism == "off" and backend.backend_name() == "tensorflow":
            import tensorflow as tf

            backend._configured = True  # what configure() does, minus determinism
            tf.config.threading.set_intra_op_parallelism_threads(backend.backend_threads())
            tf.config.threading.set_inter_op_parallelism_threads(1)
        ohlcv = self.load().frame[OHLCV].to_numpy()
        size = REFERENCE["train_window"] + REFERENCE["seq_len"] + 1
        step = REFERENCE["retrain_every"]
        windows = [ohlcv[i * step:i * step + size] for i in range(17)]
        forecaster = LSTMForecaster(seq_len=REFERENCE["seq_len"], seed=0).fit(windows[0])
        model, epochs, batch = forecaster.model_, forecaster.warm_epochs, forecaster.batch_size
        warm = [timed(lambda w=w: forecaster.fit(w))[1] for w in windows[1:]]
        features = forecaster.features_
        inputs, targets = forecaster._samples(features.transform(windows[-1]),
                                              features.target_column)
        n_train = len(inputs) - int(len(inputs) * forecaster.validation_split)
        x, y = inputs[:n_train].astype(np.float32), targets[:n_train].astype(np.float32)
        batches = [(x[i:i + batch], y[i:i + batch]) for i in range(0, n_train, batch)]
        steps = epochs * len(batches)

        def per_batch(step_function):
            def run():
                for _ in range(epochs):
                    for bx, by in batches:
                        loss = step_function(bx, by)
                float(loss)
            return run

        piped = keras.models.clone_model(model)
        piped.compile(optimizer=keras.optimizers.Adam(forecaster.learning_rate), loss="mse",
                      steps_per_execution=64)
        ways = {
            "model.fit (input pipeline, steps_per_execution 64)": lambda: piped.fit(
                x, y, epochs=epochs, batch_size=batch, shuffle=False, verbose=0),
            "train_on_batch per batch (the forecaster's loop, JAX aside)": per_batch(
                model.train_on_batch),
        }
        if backend.backend_name() == "tensorflow":
            ways.update(_raw_tensorflow_steps(model, x, y, batch, epochs, per_batch))
        if backend.backend_name() == "jax":
            run_epoch = training_steps.epoch_runner(model)
            rows = [np.arange(start, min(start + batch, n_train))
                    for start in range(0, n_train, batch)]
            ways["one jitted call an epoch (the forecaster's loop under JAX)"] = lambda: [
                run_epoch(x, y, rows) for _ in range(epochs)]
        print(f"\nfit-cost: one warm fit of {size} bars ({n_train} training samples, "
              f"{len(batches)} batches an epoch, {epochs} epochs = {steps} gradient steps), "
              f"op determinism {self.args.op_determinism}; median of {len(warm)}")
        print(f"  LSTMForecaster.fit, warm: {median(warm):.3f} s (features, training loop, "
              f"validation, weights read for forecasting)")
        for name, run in ways.items():
            run()  # traces
            seconds = median([timed(run)[1] for _ in range(len(warm))])
            print(f"  {name}: {seconds:.3f} s, {1000 * seconds / steps:.2f} ms a step")

    def memory(self):
        import ctypes

        from lstm_bt.models import LSTMForecaster
        from lstm_bt.data.synthetic import ar1_returns

        size = REFERENCE["train_window"] + REFERENCE["seq_len"] + 1
        step = REFERENCE["retrain_every"]
        fits = self.args.fits
        ohlcv = ar1_returns(size + step * fits, seed=0)[OHLCV].to_numpy()
        trim = ctypes.CDLL("libc.so.6").malloc_trim if self.args.malloc_trim else None
        print(f"\nmemory: RSS every 20 of {fits} refits on successive {size}-bar windows"
              f"{', malloc_trim after each' if trim else ''}; "
              f"MALLOC_ARENA_MAX={os.environ.get('MALLOC_ARENA_MAX', 'unset')}")
        kinds = {"both": (True, False), "warm": (True,), "cold": (False,)}[self.args.kind]
        for warm in kinds:
            model = LSTMForecaster(seq_len=REFERENCE["seq_len"], seed=0, warm_start=warm)
            model.fit(ohlcv[:size])
            rss, seconds = {0: rss_mb()}, []
            for i in range(1, fits + 1):
                seconds.append(timed(lambda i=i: model.fit(ohlcv[i * step:i * step + size]))[1])
                if trim:
                    trim(0)
                if i % 20 == 0:
                    rss[i] = rss_mb()
            # From the 20th refit on: the first ones also fill the backends' one-off caches.
            last = max(rss)
            first = 20 if last > 20 else 0
            print(f"  {'warm' if warm else 'cold'} (fit median {median(seconds):.2f} s), RSS MB "
                  f"after N refits: {'; '.join(f'{n} {mb:.1f}' for n, mb in rss.items())}; "
                  f"{(rss[last] - rss[first]) / max(last - first, 1):+.3f} MB per refit "
                  f"from {first} to {last}")


def _raw_tensorflow_steps(model, x, y, batch, epochs, per_batch):
    """The gradient steps alone: Adam on the MSE through `tf.GradientTape`, no Keras trainer."""
    import tensorflow as tf

    optimizer, variables = model.optimizer, model.trainable_variables

    def gradient_step(bx, by):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(bx, training=True)[:, 0] - by))
        optimizer.apply(tape.gradient(loss, variables), variables)
        return loss

    @tf.function(reduce_retracing=True)
    def epoch(all_x, all_y):
        total = tf.constant(0.0)
        for start in tf.range(0, len(x), batch):
            total += gradient_step(all_x[start:start + batch], all_y[start:start + batch])
        return total

    tensors = tf.constant(x), tf.constant(y)

    def by_epoch():
        for _ in range(epochs):
            loss = epoch(*tensors)
        float(loss)

    return {"tf.GradientTape step in a tf.function, per batch": per_batch(
                tf.function(gradient_step, reduce_retracing=True)),
            "tf.GradientTape steps, one tf.function an epoch (tf.range)": by_epoch}


def _memory_recording():
    """LSTMStrategy that notes this process' RSS after every retrain (`rss_after_fit`, MB)."""
    from lstm_bt.strategies import LSTMStrategy

    class MemoryRecording(LSTMStrategy):
        def start(self):
            super().start()
            self.rss_after_fit = []

        def next(self):
            super().next()
            if self.timing["retrains"] > len(self.rss_after_fit):
                self.rss_after_fit.append(rss_mb())

    return MemoryRecording


def _sma_cross():
    import backtrader as bt

    class SmaCross(bt.Strategy):
        """Long while the 10-bar SMA is above the 30-bar SMA, flat otherwise."""

        def __init__(self):
            self.cross = bt.indicators.CrossOver(bt.indicators.SMA(period=10),
                                                 bt.indicators.SMA(period=30))

        def next(self):
            if self.cross[0] > 0:
                self.order_target_percent(target=0.95)
            elif self.cross[0] < 0:
                self.order_target_percent(target=0.0)

    return SmaCross


def _bare_run(bt, bars, strategy, params):
    from lstm_bt.feeds import BinanceKlines

    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(BinanceKlines(dataname=bars.frame, interval=bars.interval))
    cerebro.broker.setcash(10_000.0)
    cerebro.broker.setcommission(commission=0.001)
    cerebro.addstrategy(strategy, **params)
    return timed(cerebro.run)[1]


def _per_call_ms(call, items):
    items = list(items)
    call(items[0])  # the first call pays one-off tracing
    _, seconds = timed(lambda: [call(item) for item in items])
    return 1000 * seconds / len(items)


if __name__ == "__main__":
    main()
