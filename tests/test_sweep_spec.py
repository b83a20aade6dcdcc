"""Sweep specs and plans: what is refused, and how many walk-forwards a grid trains."""

import re
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
    with pytest.raises(InvalidParameter, match=r"lists (8|\[4\]|1) twice"):
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


# Issue 21, item 5: one value spelt twice is one trial, refused (it would inflate N).
@pytest.mark.parametrize("tables, words", [
    ({"trading": {"threshold": [0, 0.0]}}, "[trading] `threshold` lists 0.0 twice (as 0 and 0.0)"),
    ({"trading": {"threshold": [0.0, -0.0]}}, "`threshold` lists -0.0 twice (as 0.0 and -0.0)"),
    ({"model": {"dropout": [0.5, 0, 0.0]}}, "[model] `dropout` lists 0.0 twice"),
    ({"data": {"periods": [["2024-01-04", "2024-01-13"], ["2024-01-04T00:00", "2024-01-13"]]}},
     "[data] `periods` lists the period 2024-01-04 to 2024-01-13 (UTC) twice (as "
     '["2024-01-04", "2024-01-13"] and ["2024-01-04T00:00", "2024-01-13"])'),
    ({"data": {"periods": [["2024-01-04T05:00+05:00", "2024-01-13"],
                           ["2024-01-04", "2024-01-13T00:00Z"]]}},
     "lists the period 2024-01-04 to 2024-01-13 (UTC) twice"),
    ({"data": {"files": ["a.csv", "./a.csv"]}}, '[data] `files` lists "./a.csv" twice'),
])
def test_a_value_spelt_twice_is_refused_naming_the_param_and_the_value(tables, words):
    with pytest.raises(InvalidParameter) as refused:
        load_spec(_spec(**tables))
    assert words in str(refused.value)
    assert "list each value once" in str(refused.value)


def test_distinct_values_of_one_type_or_another_are_kept():
    spec = load_spec(_spec(trading={"threshold": [0, 0.001, "cost"]},
                           model={"units": [[4], [4, 4]]}))
    assert spec.trading["threshold"] == [0, 0.001, "cost"] and spec.n_configs == 3 * 2 * 2


# Issue 21, item 11: a period with an offset reads as --start does (converted to UTC).
def test_periods_with_an_offset_are_read_in_utc_as_the_command_reads_start():
    from lstm_bt.data.dates import parse_date

    spec = load_spec(_spec(data={"periods": [["2024-01-04T05:00+05:00", "2024-01-13T00:00Z"],
                                             ["2024-01-05T12:30+02:00", "2024-01-12"]]}))
    assert spec.periods == (("2024-01-04", "2024-01-13"), ("2024-01-05T10:30", "2024-01-12"))
    assert parse_date(spec.periods[1][0]) == parse_date("2024-01-05T12:30+02:00")
    _, cells, _ = plan_sweep(spec, SOURCES, spec.broker)  # TypeError (tz-aware) before
    naive = load_spec(_spec())
    first = [cell.key for cell in plan_sweep(naive, SOURCES, naive.broker)[1]]
    assert [cell.key for cell in cells if cell.period_start == "2024-01-04"] == first
    assert tomllib.loads(spec_to_toml(spec.source))["data"]["periods"][0] == [
        "2024-01-04T05:00+05:00", "2024-01-13T00:00Z"]  # spec.toml keeps what was written


# Issue 21, item 12: bar counts are bounded, and checked before anything is written.
def _symbols_spec(**model):
    return {"data": {"symbols": ["BTCUSDT"], "interval": "1h",
                     "periods": [["2024-01-01", "2024-02-01"]]},
            "model": {"seq_len": 8, **model}}


@pytest.mark.parametrize("name, value", [("train_window", 2**63 - 1), ("retrain_every", 10**9 + 1),
                                         ("seq_len", 10**12), ("input_warmup", 10**10)])
def test_a_bar_count_above_a_billion_is_refused(name, value):
    with pytest.raises(InvalidParameter, match=re.escape(
            f"[model] {name} = {value}: Received an invalid value for `{name}`, expected ")):
        load_spec(_symbols_spec(**{name: value}))


def test_a_warm_up_reaching_before_1970_is_refused_before_any_request():
    with pytest.raises(InvalidParameter) as refused:
        load_spec(_symbols_spec(train_window=10**9))  # a billion hours
    assert "before 1970" in str(refused.value) and "train_window" in str(refused.value)
    load_spec(_symbols_spec(train_window=400_000))  # 45 years of 1h bars: 1978


def test_cli_huge_train_window_exits_2_before_anything_is_written(tmp_path):
    spec = tmp_path / "huge.toml"
    spec.write_text(spec_to_toml(_symbols_spec(train_window=2**63 - 1)))
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "lstm_bt", "sweep", str(spec), "--out", str(out),
                           "--base-url", "http://127.0.0.1:9", "--data-dir", str(tmp_path / "d")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert "train_window" in line and "1000000000" in line
    assert not out.exists() and not (tmp_path / "d").exists()


# Issue 21, item 16: the grid is counted before it is built.
def _big_spec(values=10):
    grid = {"seq_len": list(range(2, 2 + values)), "retrain_every": list(range(10, 10 + values)),
            "dropout": [i / 20 for i in range(values)],
            "learning_rate": [0.001 * (i + 1) for i in range(values)],
            "batch_size": list(range(16, 16 + values)), "epochs": list(range(1, 1 + values)),
            "warm_epochs": list(range(1, 1 + values)), "patience": list(range(values)),
            "train_window": list(range(100, 100 + values))}
    return _spec(model=grid, trading={"threshold": [i / 1000 for i in range(values)]})


def test_a_grid_above_max_cells_is_refused_before_it_is_built():
    spec = _spec(trading={"threshold": [i / 10_000 for i in range(101)],
                          "smooth": list(range(1, 501))})
    with pytest.raises(InvalidParameter) as refused:  # 101 x 500 x 2 configs x 2 seeds
        load_spec(spec)
    assert ("The spec makes 202,000 cells (101,000 configs x 1 file x 1 period x 2 seeds), "
            "above the limit of 100,000" in str(refused.value))
    assert "--max-cells 202000 (max_cells=202000 in Python)" in str(refused.value)
    assert load_spec(spec, max_cells=202_000).n_cells == 202_000
    import time

    began = time.perf_counter()
    with pytest.raises(InvalidParameter, match="makes 40,000,000,000 cells"):
        load_spec(_big_spec())  # 10 params of 10 values, 2 sizings, 2 seeds
    assert time.perf_counter() - began < 1.0


def test_sweep_and_the_command_take_max_cells_and_write_nothing_above_it(tmp_path):
    from lstm_bt import sweep

    with pytest.raises(InvalidParameter, match="makes 12 cells .* above the limit of 11"):
        sweep(_spec(), out=tmp_path / "py", max_cells=11)
    spec = tmp_path / "s.toml"
    spec.write_text(spec_to_toml(_spec()))
    for limit, words in (("11", "above the limit of 11;"),
                         ("0", "`--max-cells`, expected a positive integer")):
        done = subprocess.run([sys.executable, "-m", "lstm_bt", "sweep", str(spec), "--out",
                               str(tmp_path / "cli"), "--max-cells", limit],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 2, done.stderr
        [line] = done.stderr.strip().splitlines()
        assert words in line
    assert not (tmp_path / "py").exists() and not (tmp_path / "cli").exists()


# Issue 22: --dry-run.
def test_dry_run_counts_and_estimates_without_data_a_server_or_out(tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text(spec_to_toml({
        "data": {"symbols": ["BTCUSDT", "ETHUSDT"], "interval": "1h",
                 "periods": [["2023-01-01", "2024-01-01"], ["2024-01-01", "2025-01-01"]]},
        "run": {"seeds": [0, 1, 2]},
        "model": {"seq_len": [30, 60], "units": [[32], [64, 32]]},
        "trading": {"threshold": [0.0, 0.001, 0.002], "sizing": ["all_in", "proportional"]}}))
    here = tmp_path / "cwd"
    here.mkdir()
    done = subprocess.run([sys.executable, "-m", "lstm_bt", "sweep", str(spec), "--dry-run",
                           "--workers", "2", "--base-url", "http://127.0.0.1:9",
                           "--data-dir", str(tmp_path / "store")],
                          capture_output=True, text=True, timeout=120, cwd=here)
    assert done.returncode == 0, done.stderr
    text = done.stdout
    for words in ("configs: 24 (4 model x 6 trading)", "cells: 288 = 24 configs x 2 symbols x "
                  "2 periods x 3 seeds", "walk-forwards: 48 = 4 model configs", "8,784",
                  "estimated time: ", "on 2 workers", "rough estimate", "cost model"):
        assert words in text, (words, text)
    assert list(here.iterdir()) == [] and not (tmp_path / "store").exists()


def test_dry_run_counts_a_files_bars_and_needs_out_only_to_run(tmp_path):
    from lstm_bt.binance.files import write_kline_csv
    from lstm_bt.sweeps import estimate_sweep

    path = tmp_path / "TESTUSDT.csv"
    write_kline_csv(path, random_walk(300, seed=3), "1h")  # 2024-01-01 00:00 .. 01-13 11:00
    spec = _spec(data={"files": [str(path)], "periods": [["2024-01-04", "2024-01-13"],
                                                         ["2024-01-10", "2024-02-01"]]})
    estimate = estimate_sweep(spec, workers=1)
    assert [bars for *_, bars in estimate.sources] == [9 * 24, 300 - 9 * 24]
    assert (estimate.n_configs, estimate.n_cells, estimate.n_walk_forwards) == (6, 24, 4)
    assert estimate.total_s > estimate.walk_s > 0
    spec_path = tmp_path / "s.toml"
    spec_path.write_text(spec_to_toml(spec))
    done = subprocess.run([sys.executable, "-m", "lstm_bt", "sweep", str(spec_path)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert "--out DIR" in line and "--dry-run" in line


def test_the_cost_model_grows_with_what_a_walk_forward_computes():
    from lstm_bt.sweeps.estimate import walk_seconds

    base = {"seq_len": 30, "train_window": 500, "retrain_every": 168, "units": (16,),
            "epochs": 10}
    seconds = walk_seconds(base, 2000, cells=2)
    for change in ({"train_window": 1000}, {"retrain_every": 84}, {"units": (64,)},
                   {"units": (16, 16)}, {"seq_len": 60}, {"warm_epochs": 5, "epochs": 5},
                   {"warm_start": False}):
        assert walk_seconds({**base, **change}, 2000, cells=2) > seconds, change
    assert walk_seconds(base, 4000, cells=2) > seconds < walk_seconds(base, 2000, cells=6)


def test_the_progress_bar_counts_walk_forwards_and_scales_its_eta_by_the_finished_ones(
        tmp_path, capsys):
    from lstm_bt.sweeps import _storing
    from lstm_bt.sweeps.plan import bars_for
    from lstm_bt.sweeps.results import SweepDir

    spec = load_spec(_spec(model={"seq_len": [8, 12]}))
    _, cells, walks = plan_sweep(spec, SOURCES, spec.broker)
    frames = {symbol: frame for symbol, _, frame in SOURCES}
    work = [(bars_for(frames[walk.symbol], walk), walk, spec.broker) for walk in walks]
    directory = SweepDir(tmp_path)
    directory.prepare(spec_to_toml(spec.source))
    with _storing(work, directory, quiet=False) as on_result:
        progress = on_result.progress
        progress.slots = 2
        modelled = progress.predicted
        assert progress.eta() == pytest.approx(sum(modelled) / 2)  # the cost model alone
        on_result([{"key": cell.key, "status": "ok", "error": "", "report": {},
                    "returns": np.zeros(3), "train_s": 1.0, "total_s": 1.0,
                    "walk_s": 3 * modelled[0]} for cell in work[0][1].cells])
        # The finished one took 3 times the model's time: so will the rest, 2 at a time.
        assert progress.eta() == pytest.approx(3 * sum(modelled[1:]) / 2)
    shown = capsys.readouterr().err
    assert "1/8 walk-forwards" in shown and "cells 6/48, failed 0, ETA " in shown
    assert len(cells) == 48 and len(directory.finished([c.key for c in cells])) == 6
