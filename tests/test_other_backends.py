"""Keras' JAX backend: a tiny backtest runs, one seed gives identical forecasts, the compiled
forward pass it forecasts with agrees with the NumPy one; training one jitted call an epoch
gives what `train_on_batch` per batch gives, compiles once per architecture (models of the same
layers share the compiled programs, byte for byte as their own), keeps no model alive.

Keras fixes its backend at first import, so the run happens in a subprocess with
`KERAS_BACKEND=jax`. Skipped where jax is not installed (`pip install lstm-bt[jax]`).
"""

import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.slow

SCRIPT = textwrap.dedent("""
    import json
    import keras
    from lstm_bt import run_backtest
    from lstm_bt.data.synthetic import ar1_returns

    klines = ar1_returns(300, interval="1h", seed=5)
    params = dict(seq_len=8, train_window=120, retrain_every=48, epochs=2, units=(4,))
    runs = [run_backtest(klines, symbol="TEST", start="2024-01-08", seed=3, cache=False,
                         **params) for _ in range(2)]
    model = runs[0].strategy.model_
    closes = klines["close"].to_numpy()[model.seq_len:]
    compiled = model.predict(klines) / closes - 1
    numpy = model.predict(klines, engine="numpy") / closes - 1
    print(json.dumps({
        "compiled_vs_numpy": float(abs(compiled - numpy).max() / abs(numpy).max()),
        "backend": keras.backend.backend(),
        "retrains": runs[0].report["timing"]["retrains"],
        "forecasts": [list(run.forecasts["predicted_close"]) for run in runs],
    }))
""")


TRAINING_SCRIPT = textwrap.dedent("""
    import gc
    import json
    import os
    import weakref

    from lstm_bt.models.compile_cache import compile_cache_environment

    # Programs of their own (`alone`) and the last walk's architecture again come from JAX's
    # cache on disk instead of compiling a second time: the same executables (the programs'
    # own tracing decides each one's key), in seconds less.
    os.environ.update(compile_cache_environment())
    import numpy as np
    from lstm_bt.models import LSTMForecaster, jax_programs, training_steps
    from lstm_bt.data.synthetic import ar1_returns

    bars = ar1_returns(400, seed=5)
    # 200 bars: 172 training samples = 5 batches of 32 and one of 12; patience 1 stops early.
    params = dict(seq_len=8, units=(4,), dropout=0.2, batch_size=32, epochs=8, warm_epochs=2,
                  patience=1, learning_rate=0.01, seed=3)
    jitted_epoch, share = training_steps.epoch_runner, jax_programs.shared

    def walk(runner=jitted_epoch, shared=True, **changes):
        training_steps.epoch_runner = runner
        jax_programs.shared = share if shared else (
            lambda key, make_template, model: jax_programs.own(model))
        forecaster = LSTMForecaster(**{**params, **changes})
        histories, compiled = [], []
        for start in (0, 50, 100):
            forecaster.fit(bars[start:start + 200])
            histories.append(forecaster.history_)
            programs = forecaster._programs()
            compiled.append([id(programs), programs._epoch._cache_size()])
        return forecaster, histories, compiled

    def same(a, b):
        return (all(np.array_equal(x, y) for x, y in zip(
                    a[0].model_.get_weights(), b[0].model_.get_weights(), strict=True))
                and a[1] == b[1]
                and np.array_equal(a[0].predict(bars[200:]), b[0].predict(bars[200:])))

    jitted = walk()
    per_batch = walk(lambda model, programs=None: training_steps.batch_by_batch(model))
    loss_gap = max(abs(a - b) / b for x, y in zip(jitted[1], per_batch[1])
                   for a, b in zip(x["loss"], y["loss"]))
    # Another model of the same layers (another seed) runs the first one's compiled programs:
    # exactly what programs of its own give.
    shared, alone = walk(seed=4), walk(seed=4, shared=False)
    # A model of other layers in between (its forecaster alive, as in a sweep's other thread)
    # leaves the first architecture's programs to the next model of it.
    other, again = walk(units=(5,)), walk(seed=5)
    print(json.dumps({
        "same_weights": all(np.array_equal(a, b) for a, b in zip(
            jitted[0].model_.get_weights(), per_batch[0].model_.get_weights(), strict=True)),
        "epochs": [[len(h["loss"]) for h in run[1]] for run in (jitted, per_batch)],
        "same_val_losses": [h["val_loss"] for h in jitted[1]]
                           == [h["val_loss"] for h in per_batch[1]],
        "loss_gap": loss_gap,
        "compiled": jitted[2] + shared[2] + again[2],
        "shared_as_alone": same(shared, alone),
    }))
    # The forecasters are gone: nothing of lstm-bt may keep a model; the last programs handed
    # out keep only their template, until another architecture's take their place.
    model = weakref.ref(jitted[0].model_)
    template = weakref.ref(again[0]._programs().template)
    del jitted, per_batch, shared, alone, other, again
    gc.collect()
    model_kept = model() is not None
    walk(units=(5,))
    gc.collect()
    print(json.dumps({"model_kept": model_kept, "template_kept": template() is not None}))
""")


CACHE_SCRIPT = textwrap.dedent("""
    import json
    import os

    from lstm_bt.models.compile_cache import compile_cache_environment

    os.environ.update(compile_cache_environment())  # as the command line does for itself
    import jax

    hits = []
    jax.monitoring.register_event_listener(
        lambda event, **_: hits.append(event) if event.endswith("/cache_hits") else None)
    from lstm_bt.models import LSTMForecaster
    from lstm_bt.data.synthetic import ar1_returns

    bars = ar1_returns(300, seed=5)
    forecaster = LSTMForecaster(seq_len=8, units=(4,), epochs=2, seed=3).fit(bars[:200])
    forecaster.fit(bars[20:220])  # warm
    print(json.dumps({"forecasts": forecaster.predict(bars[200:]).tolist(), "hits": len(hits),
                      "cache": os.environ.get("JAX_COMPILATION_CACHE_DIR")}))
""")


def _run_under_jax(script, tmp_path):
    done = _jax_process(["-c", script], tmp_path)
    return [json.loads(line) for line in done.stdout.strip().splitlines()[-2:]]


def _jax_process(args, tmp_path):
    """`python ARGS` under JAX with `tmp_path` as its data directory, exited 0."""
    env = {**os.environ, "KERAS_BACKEND": "jax", "LSTM_BT_DATA_DIR": str(tmp_path)}
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    done = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


needs_jax = pytest.mark.skipif(importlib.util.find_spec("jax") is None,
                               reason="jax is not installed")


@needs_jax
def test_a_tiny_backtest_runs_under_jax_with_identical_forecasts_for_one_seed(tmp_path):
    outcome = _run_under_jax(SCRIPT, tmp_path)[-1]
    assert outcome["backend"] == "jax"
    assert outcome["retrains"] == 3
    first, second = outcome["forecasts"]
    assert len(first) == 132 and first == second
    assert outcome["compiled_vs_numpy"] < 1e-4  # predicted moves; float32 against float64


@needs_jax
def test_a_jitted_epoch_trains_as_train_on_batch_compiled_once_per_architecture(tmp_path):
    """Cold fit, then two warm fits, with dropout, an uneven last batch and early stopping:
    byte-identical weights and validation losses, the first fit's compiled epochs reused,
    also by other models of the same layers (with one of other layers in between), which
    train and forecast byte for byte as with programs of their own; no model kept, and of
    the programs no model runs, only the last handed out."""
    outcome, kept = _run_under_jax(TRAINING_SCRIPT, tmp_path)
    assert outcome["same_weights"]
    assert outcome["same_val_losses"]
    jitted_epochs, per_batch_epochs = outcome["epochs"]
    assert jitted_epochs == per_batch_epochs
    assert jitted_epochs[0] < 8  # early stopping took part
    # The epoch loss sums batch losses in another order inside the compiled scan: float32 ulps.
    assert outcome["loss_gap"] < 1e-6
    first, *later = outcome["compiled"]
    assert all(fit == first for fit in later)  # same programs, no new compilation
    assert outcome["shared_as_alone"]
    assert not kept["model_kept"]
    assert not kept["template_kept"]


@needs_jax
def test_processes_share_compiled_programs_through_the_data_directory(tmp_path):
    """A second process reads the programs the first compiled (JAX's cache in
    `<data dir>/jax_cache`) and forecasts byte for byte as the first; damaged entries cost
    compiling again, never a different result (a directory that cannot be made or written:
    test_compile_cache.py)."""
    cache = tmp_path / "jax_cache"
    first = _run_under_jax(CACHE_SCRIPT, tmp_path)[-1]
    assert first["cache"] == str(cache.resolve()) and first["hits"] == 0
    entries = sorted(cache.glob("*-cache"))
    assert entries, "the first process stored what it compiled"
    second = _run_under_jax(CACHE_SCRIPT, tmp_path)[-1]
    assert second["hits"] >= 3  # the epoch, the forecast pass and the validation pass at least
    assert second["forecasts"] == first["forecasts"]
    for entry in entries:  # as a process killed while writing them would leave them
        entry.write_bytes(entry.read_bytes()[:100])
    damaged = _run_under_jax(CACHE_SCRIPT, tmp_path)[-1]
    assert damaged["forecasts"] == first["forecasts"]


@needs_jax
def test_the_command_line_fills_the_compilation_cache_and_runs_past_entries_it_cannot_read(
        tmp_path):
    command = ["-m", "lstm_bt", "backtest", "--demo", "--units", "4", "--seq-len", "8",
               "--train-window", "120", "--retrain-every", "2000", "--epochs", "1",
               "--no-cache", "--quiet"]
    first = _jax_process(command, tmp_path)
    names = [path.name for path in (tmp_path / "jax_cache").iterdir()]
    assert any(name.endswith("-cache") for name in names)
    for name in names:  # as a full disk or a process killed while writing leaves them
        (tmp_path / "jax_cache" / name).write_bytes(b"\0" * 10)
    damaged = _jax_process(command, tmp_path)  # compiles again: exit 0, the same summary
    assert damaged.stdout.splitlines()[1:] == first.stdout.splitlines()[1:]
    warnings = [line for line in damaged.stderr.splitlines() if "compilation cache" in line]
    assert warnings and all(line.startswith("lstm-bt: warning: ") for line in warnings)
