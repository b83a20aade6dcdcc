"""`lstm-bt` when two runs collide or the machine around a run fails: one of the two runs wins,
every failure is exit 2 with one line (no traceback), and nothing finished or stored is lost.

Faults are real: two `python -m lstm_bt` processes, read-only bind mounts and a full tmpfs
(`fs_faults`), a damaged SQLite file, an HTTP server on 127.0.0.1 that answers nonsense.
"""

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import pytest

from helpers.cli_runs import ROOT, lstm_bt_all, refusal_problem
from helpers.fs_faults import read_only_dir, small_disk
from lstm_bt.cli import main

TINY = ["--seq-len", "8", "--train-window", "120", "--retrain-every", "48", "--epochs", "1",
        "--units", "4", "--quiet"]
# A day of trading after the first 128 demo bars of history.
DEMO_DAY = ["--demo", "--end", "2024-01-07 08:00", *TINY]
BINANCE_DAY = ["--symbol", "BTCUSDT", "--interval", "1h", "--start", "2024-01-01",
               "--end", "2024-01-02", *TINY]


def _start(*args):
    return subprocess.Popen([sys.executable, "-m", "lstm_bt", *map(str, args)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_two_runs_into_one_out_one_is_refused_and_the_directory_holds_the_other(tmp_path):
    out = tmp_path / "run"
    runs = {seed: _start("backtest", *DEMO_DAY, "--seed", seed, "--out", out,
                         "--data-dir", tmp_path / f"data{seed}") for seed in (1, 2)}
    answers = {seed: (run.communicate(timeout=300), run.returncode)
               for seed, run in runs.items()}
    assert sorted(code for _, code in answers.values()) == [0, 2], answers
    (winner,) = [seed for seed, (_, code) in answers.items() if code == 0]
    (loser,) = [seed for seed, (_, code) in answers.items() if code == 2]
    # Refused at its start (the winner holds --out) or, had the winner already finished,
    # because --out holds another run; never told that its run is there.
    error = answers[loser][0][1].strip()
    assert error.startswith("lstm-bt: error: `--out` ") and len(error.splitlines()) == 1
    assert "being written by another lstm-bt run" in error or "holds a different run" in error
    assert f"run directory: {out}" not in answers[loser][0][0]
    assert json.loads((out / "report.json").read_text())["params"]["seed"] == winner
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data" + str(winner), "run"]


class _DeepJson(BaseHTTPRequestHandler):
    """Answers every request with JSON nested 100,000 levels deep."""

    def do_GET(self):
        body = b"[" * 100_000 + b"]" * 100_000
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def deep_json_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _DeepJson)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_every_failure_of_the_machine_is_exit_2_with_one_line(binance_server, deep_json_url,
                                                             tmp_path):
    url = ["--base-url", binance_server.url]
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "klines.sqlite").write_bytes(b"not a database " * 100)
    with read_only_dir(tmp_path / "read-only") as read_only, \
            small_disk(tmp_path / "full", size="64k") as full:
        cases = {
            "read-only store dir": (["backtest", *BINANCE_DAY, *url, "--data-dir", read_only],
                                    "kline store in `--data-dir` cannot be used"),
            "damaged store": (["backtest", *BINANCE_DAY, *url, "--data-dir", damaged],
                              "(file is not a database)"),
            "store on a full disk": (["fetch", "--symbol", "BTCUSDT", "--interval", "1h",
                                      "--start", "2024-01-01", "--end", "2024-03-01", *url,
                                      "--data-dir", full, "--quiet"],
                                     "(database or disk is full)"),
            "--csv-out a directory": (["fetch", "--symbol", "BTCUSDT", "--interval", "1h",
                                       "--start", "2024-01-01", "--end", "2024-01-02", *url,
                                       "--data-dir", tmp_path / "data", "--csv-out", tmp_path,
                                       "--quiet"], "Is a directory"),
            "deeply nested answer": (["backtest", *BINANCE_DAY, "--base-url", deep_json_url,
                                      "--data-dir", tmp_path / "data-deep"],
                                     "did not answer with Binance klines"),
            "dates with no bars": (["backtest", *BINANCE_DAY[:4], "--start", "2021-01-01",
                                    "--end", "2021-02-01", *TINY, *url, "--data-dir",
                                    tmp_path / "data-early"],
                                   "no BTCUSDT 1h bars from 2020-12-26 16:00"),
        }
        answers = lstm_bt_all([args for args, _ in cases.values()])
        failures = [f"{name}: {why}" for (name, (_, message)), done in zip(cases.items(), answers)
                    if (why := refusal_problem(done, message))]
    assert not failures, "\n".join(failures)


def test_paths_that_cannot_serve_are_refused_before_any_training(tmp_path, capsys):
    a_file = tmp_path / "a-file"
    a_file.write_text("mine\n")
    listed = tmp_path / "listed"
    listed.mkdir()
    (listed / "report.json").write_text("[]\n")
    cases = [
        (["backtest", *DEMO_DAY, "--data-dir", a_file],
         f"`--data-dir` {a_file} is a file, not a directory"),
        (["backtest", *DEMO_DAY, "--out", a_file / "run"],
         f"`--out` {a_file / 'run'} is under {a_file}, a file, not a directory"),
        (["plot", listed], "report.json holds a list, not a report object"),
    ]
    for args, message in cases:
        assert main(list(map(str, args))) == 2, args
        error = capsys.readouterr().err
        assert error.startswith("lstm-bt: error: ") and error.count("\n") == 1
        assert message in error
    assert a_file.read_text() == "mine\n"


@pytest.mark.slow
def test_a_read_only_data_dir_costs_the_cache_never_the_finished_run(tmp_path, caplog):
    with read_only_dir(tmp_path / "data") as data:
        assert main(["backtest", *DEMO_DAY, "--data-dir", str(data), "--out",
                     str(tmp_path / "run")]) == 0
    assert "could not write forecast cache entry" in caplog.text
    assert json.loads((tmp_path / "run" / "report.json").read_text())["data"]["bars"] == 24


@pytest.mark.slow
def test_a_full_disk_under_out_is_exit_2_and_leaves_no_directory_that_looks_done(
        tmp_path, capsys):
    with small_disk(tmp_path / "disk", size="64k") as disk:
        assert main(["backtest", *DEMO_DAY, "--data-dir", str(tmp_path / "data"), "--out",
                     str(disk / "run")]) == 2
        assert list(disk.iterdir()) == []
    error = capsys.readouterr().err.strip()
    assert error == ("lstm-bt: error: No space left on device; free some disk space, or "
                     "choose another directory.")
