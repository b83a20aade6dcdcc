"""`drawing_ahead`: the run directory's pictures drawn in forked processes warmed up beforehand.

Each check runs a fresh Python (the test process has threads, so it never forks): the same
files as drawn inline, the libraries never loaded by the parent, a job's error raised in the
parent, a dead drawing process replaced by drawing inline, no drawing process left behind by
a killed parent, and no fork at all from a process with a second thread.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from lstm_bt.run.run_dir import EQUITY_PNG, FORECASTS_PNG, REPORT_HTML, TRAINING_PNG, write_run_dir
from test_run_dir import TRAINING, _record

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="drawing ahead forks only on Linux")

PRELUDE = """
import json, os, sys, threading
from lstm_bt.report import drawing_ahead
from lstm_bt.run.run_dir import read_run_dir, write_plots
record = read_run_dir(sys.argv[1])
"""


def _python(code, *args, timeout=120):
    return subprocess.run([sys.executable, "-c", PRELUDE + textwrap.dedent(code), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A run directory with every picture, drawn inline by this (threaded) process."""
    return write_run_dir(tmp_path_factory.mktemp("inline") / "run", _record(training=TRAINING))


def test_drawn_ahead_the_pictures_equal_the_inline_ones_and_the_parent_loads_no_library(
        run, tmp_path):
    done = _python("""
        with drawing_ahead.drawing_ahead():
            children = [d._process.pid for d in drawing_ahead._drawers.values()]
            write_plots(sys.argv[2], record)
        print(json.dumps({"children": children,
                          "loaded": sorted({"matplotlib", "bokeh"} & set(sys.modules))}))
    """, run, tmp_path)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert len(answer["children"]) == 2 and os.getpid() not in answer["children"]
    assert answer["loaded"] == []  # drawn elsewhere: the parent never imported either
    for name in (EQUITY_PNG, FORECASTS_PNG, TRAINING_PNG):
        assert (tmp_path / name).read_bytes() == (run / name).read_bytes(), name
    html = (tmp_path / REPORT_HTML).read_text(encoding="utf-8")
    assert "Bokeh" in html and "DEMO" in html


def test_a_jobs_error_is_raised_in_the_parent_with_the_drawing_processs_traceback(run, tmp_path):
    (tmp_path / "a-file").write_text("not a directory")
    done = _python("""
        with drawing_ahead.drawing_ahead():
            assert drawing_ahead._drawers
            try:
                write_plots(sys.argv[2], record)
            except (FileExistsError, NotADirectoryError) as error:
                print("raised", "_draw_equity" in "".join(error.__notes__))
    """, run, tmp_path / "a-file")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["raised", "True"]


def test_a_killed_drawing_process_is_replaced_by_drawing_inline(run, tmp_path):
    done = _python("""
        import signal
        with drawing_ahead.drawing_ahead():
            os.kill(drawing_ahead._drawers["bokeh"]._process.pid, signal.SIGKILL)
            drawing_ahead._drawers["bokeh"]._process.join()
            write_plots(sys.argv[2], record)
            print("drawers left", len(drawing_ahead._drawers))
    """, run, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["drawers", "left", "0"]
    assert (tmp_path / REPORT_HTML).stat().st_size > 0
    assert (tmp_path / EQUITY_PNG).read_bytes() == (run / EQUITY_PNG).read_bytes()


def test_a_killed_parent_leaves_no_drawing_process_behind(run):
    parent = subprocess.Popen(
        [sys.executable, "-c", PRELUDE + textwrap.dedent("""
            with drawing_ahead.drawing_ahead():
                print(*[d._process.pid for d in drawing_ahead._drawers.values()], flush=True)
                threading.Event().wait()
        """), str(run)], stdout=subprocess.PIPE, text=True)
    children = [int(pid) for pid in parent.stdout.readline().split()]
    assert len(children) == 2
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in children)


@pytest.mark.parametrize("hazard", ["threading.Thread(target=stop.wait).start()",
                                    "sys.modules.setdefault('tensorflow', sys)"])
def test_a_process_with_a_second_thread_or_a_backend_does_not_fork_and_draws_inline(
        run, tmp_path, hazard):
    done = _python(f"""
        stop = threading.Event()
        {hazard}
        with drawing_ahead.drawing_ahead():
            print("drawers", len(drawing_ahead._drawers))
            write_plots(sys.argv[2], record)
        stop.set()
    """, run, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["drawers", "0"]
    assert (tmp_path / EQUITY_PNG).read_bytes() == (run / EQUITY_PNG).read_bytes()


def _alive(pid):
    """True while `pid` runs (a zombie counts as gone: it draws nothing)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
