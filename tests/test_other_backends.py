"""A tiny backtest under Keras' JAX backend: it runs, one seed gives identical forecasts, and
the compiled forward pass it forecasts with agrees with the NumPy one.

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
    from lstm_bt.synthetic import ar1_returns

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


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")
def test_a_tiny_backtest_runs_under_jax_with_identical_forecasts_for_one_seed(tmp_path):
    env = {**os.environ, "KERAS_BACKEND": "jax", "LSTM_BT_DATA_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome["backend"] == "jax"
    assert outcome["retrains"] == 3
    first, second = outcome["forecasts"]
    assert len(first) == 132 and first == second
    assert outcome["compiled_vs_numpy"] < 1e-4  # predicted moves; float32 against float64
