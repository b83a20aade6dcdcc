"""The session journal: one identity per state directory, one process at a time, every event
written once and checked when replayed."""

import subprocess
import sys

import pytest

from lstm_bt.errors import DataError
from lstm_bt.live.journal import JOURNAL_FILE, Journal, JournalMismatch, SessionMismatch

IDENTITY = {"symbol": "BTCUSDT", "interval": "1h",
            "params": {"strategy": "LSTMStrategy", "seq_len": 60, "seed": 0}}
ROW = (1_700_000_000_000, 100.0, 101.0, 99.0, 100.5, 3.0, 1_700_003_599_999, 301.5, 12, 1.5,
       150.75)


def test_a_new_directory_starts_a_session_and_the_same_identity_resumes_it(tmp_path):
    with Journal.open(tmp_path, IDENTITY) as journal:
        assert journal.created
        journal.add_bars([ROW], live=True)
    with Journal.open(tmp_path, IDENTITY) as journal:
        assert not journal.created
        assert journal.bars() == [(ROW, True)]
        assert journal.live_bars() == 1


@pytest.mark.parametrize("change, named", [
    ({"symbol": "ETHUSDT"}, "symbol: 'BTCUSDT' there, 'ETHUSDT' now"),
    ({"params": {**IDENTITY["params"], "seq_len": 30}}, "params.seq_len: 60 there, 30 now"),
    ({"params": {**IDENTITY["params"], "strategy": "RsiMacd"}}, "params.strategy"),
])
def test_another_session_in_the_directory_is_refused_naming_the_difference(tmp_path, change,
                                                                           named):
    with Journal.open(tmp_path, IDENTITY) as journal:
        journal.add_bars([ROW], live=False)
    with pytest.raises(SessionMismatch, match="holds another session") as refused:
        Journal.open(tmp_path, {**IDENTITY, **change})
    assert named in str(refused.value)


def test_a_session_that_never_had_a_bar_gives_way_to_a_corrected_command(tmp_path):
    Journal.open(tmp_path, IDENTITY).close()  # e.g. its history could not be fetched
    corrected = {**IDENTITY, "symbol": "ETHUSDT"}
    with Journal.open(tmp_path, corrected) as journal:
        assert journal.identity == corrected and journal.created


def test_an_event_is_written_once_and_checked_on_replay(tmp_path):
    with Journal.open(tmp_path, IDENTITY) as journal:
        assert journal.record("forecast", 1, {"predicted_close": 101.25, "signal": 1})
        assert not journal.record("forecast", 1, {"signal": 1, "predicted_close": 101.25})
        with pytest.raises(JournalMismatch, match="forecast 1.*101.25.*101.26"):
            journal.record("forecast", 1, {"predicted_close": 101.26, "signal": 1})
        assert journal.events("forecast") == [("1", {"predicted_close": 101.25, "signal": 1})]


def test_floats_are_compared_bit_for_bit(tmp_path):
    with Journal.open(tmp_path, IDENTITY) as journal:
        journal.record("equity", 1, {"value": 0.1 + 0.2})
        with pytest.raises(JournalMismatch):
            journal.record("equity", 1, {"value": 0.3})


def test_a_second_process_on_the_same_directory_is_refused(tmp_path):
    with Journal.open(tmp_path, IDENTITY):
        other = subprocess.run(
            [sys.executable, "-c",
             "import sys; from lstm_bt.live.journal import Journal\n"
             f"Journal.open(sys.argv[1], {IDENTITY!r})", str(tmp_path)],
            capture_output=True, text=True)
    assert other.returncode == 1 and "in use by another lstm-bt session" in other.stderr
    Journal.open(tmp_path, IDENTITY).close()  # free again once the first closed


def test_a_damaged_journal_is_refused_in_one_line_naming_it(tmp_path):
    (tmp_path / JOURNAL_FILE).write_bytes(b"not a database, " * 1000)
    with pytest.raises(DataError, match=f"the journal {tmp_path / JOURNAL_FILE} cannot be used"):
        Journal.open(tmp_path, IDENTITY)
    (tmp_path / JOURNAL_FILE).unlink()
    Journal.open(tmp_path, IDENTITY).close()  # the lock was given back
