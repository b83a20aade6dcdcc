"""Sweep specs and plans: what is refused, and how many walk-forwards a grid trains."""

import subprocess
import sys
import tomllib

import numpy as np
import pytest

from lstm_bt.data.synthetic import random_walk
from lstm_bt.errors import InvalidParameter
from lstm_bt.sweeps.plan import plan_sweep
from lstm_bt.sweeps.spec import load_spec, spec_to_toml

SOURCES = [("AAAUSDT", "1h", random_walk(300, seed=1)), ("BBBUSDT", "1h", random_walk(300, seed=2))]


def _spec(**tables):
    spec = {
        "data": {"files": ["a.csv"], "interval": "1h",
                 "periods": [["2024-01-04", "2024-01-13"]]},
        "run": {"seeds": [0, 1]},
        "model": {"seq_len": 8, "train_window": 60, "retrain_every": 48, "units": [4],
                  "epochs": 1},
        "trading": {"threshold": [0.0, 0.001, 0.002], "sizing": ["all_in", "proportional"]},
    }
    for table, values in tables.items():
        spec[table] = {**spec.get(table, {}), **values}
    return spec


def test_three_thresholds_by_two_sizings_train_once_per_symbol_period_and_seed():
    spec = load_spec(_spec())
    configs, cells, walks = plan_sweep(spec, SOURCES, spec.broker)
    assert len(configs) == 6
    assert len(cells) == 6 * 2 * 2  # configs x symbols x seeds (one period)
    assert len(walks) == 2 * 2  # symbols x seeds: one training each, six replays each
    assert all(len(walk.cells) == 6 for walk in walks)
    assert len({cell.key for cell in cells}) == len(cells)


def test_each_model_combination_is_its_own_walk_forward():
    spec = load_spec(_spec(model={"seq_len": [8, 12], "units": [[4], [8, 4]]}))
    _, cells, walks = plan_sweep(spec, SOURCES[:1], spec.broker)
    assert len(walks) == 4 * 2  # (seq_len x units) x seeds
    assert {walk.model["units"] for walk in walks} == {(4,), (8, 4)}
    assert spec.swept == ["seq_len", "units", "threshold", "sizing"]


def test_widths_one_value_or_a_sweep():
    assert load_spec(_spec(model={"units": [64, 32]})).model["units"] == [(64, 32)]
    assert load_spec(_spec(model={"units": [[32], [64, 32]]})).model["units"] == [(32,), (64, 32)]


@pytest.mark.parametrize("model", [{"seq_len": [np.int64(8), 8]},
                                   {"units": [[4], [np.int64(4)]]},
                                   {"epochs": np.array([1, 1])}])
def test_a_numpy_value_equal_to_another_is_listed_twice(model):
    with pytest.raises(InvalidParameter, match="lists a value twice"):
        load_spec(_spec(model=model))


def test_numpy_values_in_a_dict_spec_are_read_as_python_values():
    spec = load_spec(_spec(run={"seeds": np.arange(2), "cash": np.float64(5000.0)},
                           model={"seq_len": [np.int64(8), np.int32(12)],
                                  "units": [np.int64(4)], "dropout": np.float32(0.5)},
                           trading={"allow_short": np.bool_(True),
                                    "sizing": [np.str_("all_in")]}))
    values = [*spec.seeds, spec.broker["cash"], *spec.model["seq_len"], *spec.model["units"][0],
              *spec.model["dropout"], *spec.trading["allow_short"], *spec.trading["sizing"]]
    assert [type(value) for value in values] == [int, int, float, int, int, int, float, bool,
                                                 str]
    assert values == [0, 1, 5000.0, 8, 12, 4, 0.5, True, "all_in"]
    assert tomllib.loads(spec_to_toml(spec.source)) == spec.source


def test_cell_keys_are_stable_and_change_with_what_decides_the_cell():
    spec = load_spec(_spec())
    keys = [c.key for c in plan_sweep(spec, SOURCES, spec.broker)[1]]
    assert keys == [c.key for c in plan_sweep(spec, SOURCES, spec.broker)[1]]
    changed = SOURCES[0][2].copy()
    changed.iloc[200, changed.columns.get_loc("close")] *= 1.01  # a bar inside the period
    other_data = [("AAAUSDT", "1h", changed), SOURCES[1]]
    assert keys[0] != plan_sweep(spec, other_data, spec.broker)[1][0].key
    dearer = {**spec.broker, "commission": 0.002}
    assert keys[0] != plan_sweep(spec, SOURCES, dearer)[1][0].key


def test_a_cell_stored_under_one_keras_backend_is_not_reused_under_another(tmp_path,
                                                                          monkeypatch):
    # The walk-forward's key is the forecast cache's: the backend it trains under is in it.
    from lstm_bt.models import backend as keras_backend
    from lstm_bt.sweeps.results import SweepDir

    spec = load_spec(_spec())
    directory = SweepDir(tmp_path)
    directory.prepare(spec_to_toml(spec.source))

    def keys_under(backend):
        monkeypatch.setattr(keras_backend, "backend_name", lambda: backend)
        return [cell.key for cell in plan_sweep(spec, SOURCES, spec.broker)[1]]

    for key in keys_under("tensorflow"):
        directory.store({"key": key, "status": "ok", "error": "", "report": {},
                         "returns": np.zeros(3), "train_s": 0.0, "total_s": 0.0})
    assert directory.finished(keys_under("tensorflow")) == set(keys_under("tensorflow"))
    assert directory.finished(keys_under("jax")) == set()


def test_spec_round_trips_through_toml():
    spec = load_spec(_spec(model={"units": [[4], [8, 4]]}))
    again = load_spec(tomllib.loads(spec_to_toml(spec.source)))
    assert again == spec


@pytest.mark.parametrize("tables, words", [
    ({"trading": {"treshold": 0.001}}, ["no param 'treshold'", "Did you mean 'threshold'"]),
    ({"trading": {"seq_len": [8, 12]}}, ["`seq_len` is a model param", "[model]"]),
    ({"model": {"sizing": "all_in"}}, ["`sizing` is a trading param", "[trading]"]),
    ({"modle": {"units": [4]}}, ["no table [modle]", "Did you mean 'model'"]),
    ({"data": {"periods": [["2024-02-01", "2024-01-01"]]}}, ["periods"]),
    ({"data": {"periodz": []}}, ["[data] has no key 'periodz'", "Did you mean 'periods'"]),
    ({"run": {"seeds": [0, 0]}}, ["seeds", "distinct"]),
    ({"run": {"seeds": [0, 2**32]}}, ["seeds", "from 0 to 4294967295", "4294967296"]),
    ({"run": {"commission": 2}}, ["commission"]),
    ({"data": {"symbols": ["BTCUSDT"]}}, ["either `symbols`", "or `files`"]),
    ({"model": {"seq_len": [8, 200]}}, ["seq_len = 200"]),
    ({"model": {"units": [[8, True]]}}, ["units = [8, true]", "`units`, expected an integer in "
                                        "[1, 4096] (each layer width in (8, True)), got True"]),
    ({"trading": {"threshold": [-0.1]}}, ["threshold = -0.1"]),
    ({"trading": {"threshold": []}}, ["`threshold` is an empty list"]),
])
def test_bad_spec_is_refused_naming_the_key_and_the_fix(tables, words):
    with pytest.raises(InvalidParameter) as refused:
        load_spec(_spec(**tables))
    for word in words:
        assert word in str(refused.value)


def test_cli_bad_spec_exits_2_with_one_line_and_writes_nothing(tmp_path):
    spec = tmp_path / "bad.toml"
    spec.write_text(spec_to_toml(_spec(trading={"treshold": 0.001})))
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "lstm_bt", "sweep", str(spec), "--out",
                           str(out)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Did you mean 'threshold'" in lines[0], done.stderr
    assert "Traceback" not in done.stderr
    assert not out.exists()


def test_cli_refuses_workers_and_scheduler_together(tmp_path):
    done = subprocess.run([sys.executable, "-m", "lstm_bt", "sweep", "x.toml", "--out",
                           str(tmp_path), "--workers", "2", "--scheduler", "tcp://h:1"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "not allowed with argument" in done.stderr


def test_refuses_an_out_dir_that_holds_something_else_and_keeps_it(tmp_path):
    from lstm_bt import sweep

    (tmp_path / "report.json").write_text("{}")
    with pytest.raises(InvalidParameter, match="no sweep"):
        sweep(_spec(), out=tmp_path)
    assert [path.name for path in tmp_path.iterdir()] == ["report.json"]


def test_lstm_bt_sweep_is_the_function_and_checks_its_arguments_first():
    import lstm_bt
    from lstm_bt import sweep
    from lstm_bt.sweeps import sweep as defined

    assert sweep is lstm_bt.sweep is defined
    with pytest.raises(InvalidParameter, match="at most one of"):
        sweep(_spec(), out="unused", workers=2, scheduler="tcp://127.0.0.1:1")
    for every in (-1, 2.5, True):
        with pytest.raises(InvalidParameter, match=r"`restart_workers_every`, expected an "
                                                   r"integer >= 0 \(walk-forwards per worker"):
            sweep(_spec(), out="unused", restart_workers_every=every)
    with pytest.raises(InvalidParameter, match="applies to local worker processes"):
        sweep(_spec(), out="unused", scheduler="tcp://127.0.0.1:1", restart_workers_every=5)


def _documented_spec(path, after):
    """The first ```toml block after `after` in the document `path`, and the text after it."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / path).read_text(encoding="utf-8")
    section = text.split(after, 1)[1]
    return re.search(r"```toml\n(.*?)```", section, re.DOTALL).group(1), section


def test_the_docs_spec_is_valid_and_plans_what_the_docs_say():
    text, section = _documented_spec("docs/sweeps.md", "## The spec")
    spec = load_spec(tomllib.loads(text))
    bars = random_walk(2 * 366 * 24 + 2100, start="2022-10-01")
    sources = [("BTCUSDT", "1h", bars), ("ETHUSDT", "1h", bars)]
    configs, cells, walks = plan_sweep(spec, sources, spec.broker)
    assert (len(configs), len(cells), len(walks)) == (24, 288, 48)
    assert "4 model × 6 trading\n= 24 configs" in section and "4 × 12 = 48" in section


def test_the_readme_spec_is_valid_and_plans_what_the_readme_says():
    text, section = _documented_spec("README.md", "## Sweeps")
    spec = load_spec(tomllib.loads(text))
    sources = [("BTCUSDT", "1h", random_walk(300, seed=1)), ("ETHUSDT", "1h", random_walk(300, seed=2))]
    configs, cells, walks = plan_sweep(spec, sources, spec.broker)
    assert (len(configs), len(cells), len(walks)) == (6, 72, 24)
    assert "2 × 3 = 6 configs on 2 symbols × 2 periods × 3 seeds = 72 cells" in section
    assert "only 24\nwalk-forwards train" in section


def test_symbols_are_fetched_once_through_the_kline_store_with_the_longest_warm_up(
        binance_server, tmp_path):
    import pandas as pd

    from lstm_bt.sweeps.data import load_sources

    spec = load_spec({
        "data": {"symbols": ["BTCUSDT"], "interval": "1h",
                 "periods": [["2024-02-01", "2024-02-08"], ["2024-01-01", "2024-01-08"]]},
        "model": {"seq_len": 8, "train_window": [60, 100], "retrain_every": 48},
    })
    [(symbol, interval, frame)] = load_sources(spec, data_dir=tmp_path,
                                               base_url=binance_server.url)
    assert (symbol, interval) == ("BTCUSDT", "1h")
    # The earliest period less the longest warm-up (100 + 8 bars), to the latest end.
    assert frame.index[0] == pd.Timestamp("2024-01-01") - pd.Timedelta(hours=108)
    assert frame.index[-1] == pd.Timestamp("2024-02-07 23:00")
    asked = len(binance_server.klines_requests)
    assert asked >= 1
    [(_, _, again)] = load_sources(spec, data_dir=tmp_path, base_url=binance_server.url)
    assert len(binance_server.klines_requests) == asked  # the store had it all
    pd.testing.assert_frame_equal(again, frame)
