"""Parity, the central rule of paper trading: whatever the stream does, a paper session's
forecasts, trades and equity equal those of a backtest started at its first live bar.

Six `lstm-bt trade --paper` processes run at once, each on its own fake Binance playing the same
1-second klines (REST history, then the live stream) with one fault: none, a connection cut
mid-bar, repeated closed candles, a silence while pings are answered, a `serverShutdown`, and
a `kill -9` followed by the same command. Each must then equal `run_backtest` over the bars
its fake serves over REST, from the session's first live bar to its end, byte for byte.
"""

import json
import os
import pty
import signal
import sqlite3
import threading
import time
from contextlib import ExitStack

import pytest

from helpers.fake_binance import FakeBinance
from lstm_bt.data.dates import from_ms
from helpers.paper_sessions import (SYMBOL, Session, backtest_of, differences, journal_count,
                                    played_bars)

pytestmark = pytest.mark.slow

BARS = 24
FAULT_AT = 6  # live bars before the fault
KILL_AT = 9


class _Terminal:
    """A pseudo-terminal to be a session's stdout, and everything written to it."""

    def __init__(self):
        self.master, self.slave = pty.openpty()
        self.chunks = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        while True:
            try:
                chunk = os.read(self.master, 4096)
            except OSError:  # the last writer closed its end
                return
            if not chunk:
                return
            self.chunks.append(chunk)

    def text(self):
        self._reader.join(5)
        return b"".join(self.chunks).decode()


FAULTS = {
    "clean": None,
    "drop": lambda fake: fake.drop(outage_s=2.0),
    "repeat": lambda fake: fake.repeat_closed(times=3),
    "silent": lambda fake: fake.go_silent(4.0),
    "shutdown": lambda fake: fake.announce_shutdown(grace_s=0.5),
    "killed": None,
}


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    """name -> dict of the finished session: `state`, `fake`, `returncode`, `stdout`,
    `stderr`, `touched` (open times the fault touched), `backtest` (its run directory)."""
    root = tmp_path_factory.mktemp("paper")
    terminal = _Terminal()
    with ExitStack() as stack:
        fakes = {name: stack.enter_context(FakeBinance(
            SYMBOL, "1s", history=150, bars=450, frame=played_bars(), ping_interval=0.5,
            ping_timeout=2.0)) for name in FAULTS}
        runs = {
            "clean": Session(fakes["clean"], root / "clean", bars=BARS, stdout=terminal.slave),
            "drop": Session(fakes["drop"], root / "drop", bars=BARS, extra=["--quiet"]),
            "repeat": Session(fakes["repeat"], root / "repeat", bars=BARS),
            "silent": Session(fakes["silent"], root / "silent"),          # ends on SIGTERM
            "shutdown": Session(fakes["shutdown"], root / "shutdown"),    # ends on Ctrl-C
            "killed": Session(fakes["killed"], root / "killed", bars=BARS),
        }
        for run in runs.values():
            run.start()
        os.close(terminal.slave)
        touched = steer(runs, fakes)
        finished = {}
        for name, run in runs.items():
            returncode, out, err = run.finish()
            assert returncode == 0, f"{name}: exit {returncode}: {err[-2000:]}"
            backtest = root / f"{name}-backtest"
            backtest_of(run.state, fakes[name], backtest)
            finished[name] = {"state": run.state, "fake": fakes[name], "returncode": returncode,
                              "stdout": out, "stderr": err, "touched": touched[name],
                              "backtest": backtest}
        finished["clean"]["stdout"] = terminal.text()
    yield finished


def steer(runs, fakes):
    """Inject each session's fault at its own FAULT_AT-th live bar (the processes start at
    different paces), kill -9 and restart `killed` at its KILL_AT-th, and stop `silent`
    (SIGTERM) and `shutdown` (Ctrl-C) at their BARS-th; returns name -> the open times each
    fault touched (for `killed`: the live bars it had when killed)."""
    steps = [(name, FAULT_AT, lambda name=name: FAULTS[name](fakes[name]))
             for name in FAULTS if FAULTS[name] is not None]
    steps.append(("killed", KILL_AT, lambda: _kill_and_restart(runs["killed"])))
    steps += [("silent", BARS, lambda: runs["silent"].signal(signal.SIGTERM)),
              ("shutdown", BARS, lambda: runs["shutdown"].signal(signal.SIGINT))]
    touched = {name: [] for name in FAULTS}
    ends = time.monotonic() + 240
    while steps:
        for step in list(steps):
            name, at, act = step
            if runs[name].live_bars() >= at:
                done = act()
                if at != BARS:
                    touched[name] = done
                steps.remove(step)
            elif runs[name].process.poll() is not None:
                raise AssertionError(f"{name} ended early: {runs[name].finish()}")
        assert time.monotonic() < ends, f"sessions stalled before {steps}"
        time.sleep(0.05)
    return touched


def _kill_and_restart(run):
    run.kill()
    bars = run.live_bars()
    run.start()
    return [bars]


def live_open_times(state):
    """The open times (ms) of the live bars journaled, in order."""
    with sqlite3.connect(f"file:{state / 'journal.sqlite'}?mode=ro", uri=True) as connection:
        return [row[0] for row in connection.execute(
            "SELECT open_time FROM bars WHERE live ORDER BY open_time")]


def report_of(state):
    return json.loads((state / "report.json").read_text())


def assert_parity(session):
    assert differences(session["state"], session["backtest"]) == []
    # Parity needs orders to compare: fills in the journal, and at least one closed trade.
    fills = journal_count(session["state"],
                          "SELECT COUNT(*) FROM events WHERE kind = 'fill' AND "
                          "payload LIKE '%\"status\":\"completed\"%'")
    trades = (session["state"] / "trades.csv").read_text().splitlines()[1:]
    assert fills >= 3 and len(trades) >= 1, (fills, trades)
    # From the first live bar on, every live bar has its forecast.
    forecasts = (session["state"] / "forecasts.csv").read_text().splitlines()[1:]
    opens = live_open_times(session["state"])
    assert len(forecasts) == len(opens)
    assert forecasts[0].startswith(f"{from_ms(opens[0]):%Y-%m-%d %H:%M:%S},")


def assert_fault_inside_the_session(session):
    opens = live_open_times(session["state"])
    assert session["touched"] and opens[0] < session["touched"][0] <= opens[-1]


@pytest.mark.parametrize("name", list(FAULTS))
def test_every_live_bar_is_journaled_once_in_order_without_gaps(sessions, name):
    opens = live_open_times(sessions[name]["state"])
    assert len(opens) >= BARS
    assert opens == list(range(opens[0], opens[0] + 1000 * len(opens), 1000))
    assert report_of(sessions[name]["state"])["data"]["bars"] == len(opens)


def test_clean_stream_session_equals_the_backtest(sessions):
    assert_parity(sessions["clean"])
    assert len(live_open_times(sessions["clean"]["state"])) == BARS


def test_pings_are_answered_while_models_train(sessions):
    clean = sessions["clean"]
    fits = json.loads((clean["state"] / "training.json").read_text())
    assert len(fits) >= 3
    # The fake drops a connection whose pongs are 2 s late; one connection served it all.
    assert len(clean["fake"].connections) == 1


def test_stream_cut_mid_bar_changes_nothing(sessions):
    drop = sessions["drop"]
    assert len(drop["fake"].connections) >= 2
    assert_fault_inside_the_session(drop)
    assert_parity(drop)


def test_repeated_closed_candles_change_nothing(sessions):
    assert_fault_inside_the_session(sessions["repeat"])
    assert_parity(sessions["repeat"])


def test_silent_stream_answering_pings_changes_nothing(sessions):
    silent = sessions["silent"]
    assert_fault_inside_the_session(silent)
    assert_parity(silent)


def test_server_shutdown_changes_nothing(sessions):
    shutdown = sessions["shutdown"]
    assert len(shutdown["fake"].connections) >= 2
    assert_fault_inside_the_session(shutdown)
    assert_parity(shutdown)


def test_kill_9_then_the_same_command_resumes_where_it_was(sessions):
    killed = sessions["killed"]
    assert 0 < killed["touched"][0] < BARS
    assert len(live_open_times(killed["state"])) == BARS
    for kind in ("forecast", "equity"):
        assert journal_count(killed["state"],
                             f"SELECT COUNT(*) FROM events WHERE kind = '{kind}'") == BARS
    assert_parity(killed)


def test_sigterm_and_ctrl_c_stop_cleanly_at_a_bar(sessions):
    for name in ("silent", "shutdown"):
        session = sessions[name]
        assert "Traceback" not in session["stderr"]
        assert "stopping after the bar in hand" in session["stderr"]
        assert report_of(session["state"])["data"]["bars"] >= BARS


def test_status_line_is_rewritten_in_place_on_a_terminal(sessions):
    shown = sessions["clean"]["stdout"]
    updates = shown.split("\r\x1b[2K")
    assert len(updates) > BARS
    last = updates[-1].splitlines()[0]
    assert last.startswith(f"{SYMBOL} 1s | last bar ")
    for part in ("| position ", "| equity ", "| next retrain in ", "| stream "):
        assert part in last
    assert any(update.endswith("| stream live") for update in updates)


def test_status_line_is_plain_lines_when_piped_and_nothing_when_quiet(sessions):
    lines = sessions["repeat"]["stdout"].splitlines()
    assert "\r" not in sessions["repeat"]["stdout"]
    assert sum(line.startswith(f"{SYMBOL} 1s | last bar ") for line in lines) >= BARS
    assert lines[-1].startswith(f"paper session {SYMBOL} 1s: {BARS} live bars")
    assert sessions["drop"]["stdout"] == ""


def test_plot_draws_a_state_directory(sessions, tmp_path):
    import shutil

    from lstm_bt.cli import main

    state = tmp_path / "state"
    shutil.copytree(sessions["clean"]["state"], state)
    assert main(["plot", str(state), "--quiet"]) == 0
    for name in ("equity.png", "forecasts.png", "training.png", "report.html"):
        assert (state / name).stat().st_size > 1000


def test_a_replay_that_decides_differently_stops_in_one_line(sessions, tmp_path, capsys):
    import shutil

    from lstm_bt.cli import main

    state = tmp_path / "state"
    shutil.copytree(sessions["killed"]["state"], state)
    with sqlite3.connect(state / "journal.sqlite") as connection:
        key, payload = connection.execute(
            "SELECT key, payload FROM events WHERE kind = 'forecast' ORDER BY seq "
            "LIMIT 1 OFFSET 10").fetchone()
        changed = json.loads(payload)
        changed["predicted_close"] += 0.01  # as if the model code had changed since
        connection.execute("UPDATE events SET payload = ? WHERE kind = 'forecast' AND key = ?",
                           (json.dumps(changed, sort_keys=True, separators=(",", ":")), key))
    # The same command (in this process: the session's own ran in theirs); its fake has
    # stopped, which the replay does not need.
    status = main(Session(sessions["killed"]["fake"], state, bars=BARS).argv[3:])
    err = capsys.readouterr().err
    # The last line: the stream may log a warning first (its fake has stopped).
    assert status == 2 and "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("lstm-bt: error: ")
    assert f"replays differently from its journal at forecast {key}" in last
