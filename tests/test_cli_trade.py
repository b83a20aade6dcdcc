"""`lstm-bt trade` refuses what it cannot do, and another session's `--state`, in one line
with exit status 2, before touching the network: the URLs point at a closed port, so a lost
refusal shows as a network error, not as a pass."""

import json

import pytest

from lstm_bt.cli import main
from lstm_bt.live import Journal, PaperSession

NOWHERE = ["--base-url", "http://127.0.0.1:9", "--stream-url", "ws://127.0.0.1:9"]
MARKET = ["--symbol", "BTCUSDT", "--interval", "1h"]
MODEL = {"seq_len": 8, "train_window": 100}


def held_session(state, **changes):
    """Start the journal of a session in `state` with one bar of history, as its first run
    does."""
    params = {"symbol": "BTCUSDT", "interval": "1h", **MODEL, **changes}
    session = PaperSession(params.pop("symbol"), params.pop("interval"), state=state, **params)
    with Journal.open(state, session.identity) as journal:
        journal.add_bars([(1_700_000_000_000, 100.0, 101.0, 99.0, 100.5, 3.0, 1_700_003_599_999,
                           301.5, 12, 1.5, 150.75)], live=False)


def refusal(argv, capsys):
    """Run the command in this process; its one stderr line if it refused (exit 2), else a
    description of what happened instead."""
    status = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    if status != 2 or len(err) != 1 or not err[0].startswith("lstm-bt: error: "):
        return f"exit {status}, stderr {err!r}"
    return err[0]


def test_refusals_are_one_line_naming_the_problem(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LSTM_BT_RETRY_BUDGET", "1")  # a lost refusal fails fast
    for name in ("LSTM_BT_API_KEY", "LSTM_BT_API_SECRET"):
        monkeypatch.delenv(name, raising=False)
    held_session(tmp_path / "held")
    summary = tmp_path / "sweep" / "summary.json"
    summary.parent.mkdir()
    summary.write_text(json.dumps({"best": {"config": 3, "params": {"seq_len": 12,
                                                                    "threshold": 0.004}}}))
    report = tmp_path / "run" / "report.json"
    report.parent.mkdir()
    report.write_text(json.dumps({"data": {"symbol": "BTCUSDT", "interval": "1h"},
                                  "params": {"strategy": "LSTMStrategy", "seq_len": 12,
                                             "train_window": 100, "seed": 0}}))
    other = tmp_path / "other" / "report.json"
    other.parent.mkdir()
    other.write_text(json.dumps({"data": {"symbol": "BTCUSDT", "interval": "1h"},
                                 "params": {"strategy": "RsiMacd", "seq_len": 8}}))
    cases = [
        (["--testnet", *MARKET], "No API secret: set LSTM_BT_API_KEY and LSTM_BT_API_SECRET"),
        (["--live", *MARKET], "--live sends orders that spend real money; add "
                              "--i-understand-real-money"),
        (["--testnet", *MARKET, "--allow-short"], "--allow-short: a spot account cannot sell"),
        (["--testnet", *MARKET, "--max-notional", "-5"],
         "argument --max-notional: expected a positive number"),
        ([*MARKET], "give exactly one of --paper, --testnet, --live"),
        (["--paper", *MARKET, "--cash", "1e308"],
         "argument --cash: expected a positive amount of quote currency up to 1e12"),
        (["--paper", "--interval", "1h"], "no market: give --symbol and --interval"),
        (["--paper", *MARKET, "--bars", "0"], "argument --bars: expected a positive integer"),
        (["--paper", "--symbol", "ETHUSDT", "--interval", "1h", "--seq-len", "8",
          "--train-window", "100"], "symbol: 'BTCUSDT' there, 'ETHUSDT' now"),
        (["--paper", *MARKET, "--seq-len", "9", "--train-window", "100"],
         "params.seq_len: 8 there, 9 now"),
        (["--paper", *MARKET, "--seq-len", "8", "--train-window", "100", "--seed", "1"],
         "params.seed: 0 there, 1 now"),
        (["--paper", *MARKET, "--from", str(summary), "--train-window", "100"],
         "params.seq_len: 8 there, 12 now"),
        (["--paper", "--from", str(report)], "params.seq_len: 8 there, 12 now"),
        (["--paper", "--from", str(other)], "ran RsiMacd; pass --strategy-path"),
    ]
    for argv, message in cases:
        assert message in refusal(["trade", *argv, "--state", str(tmp_path / "held"),
                                   *NOWHERE], capsys)
    assert "the following arguments are required: --state" in refusal(
        ["trade", "--paper", *MARKET, *NOWHERE], capsys)


def test_the_state_refusal_says_how_to_resume(tmp_path):
    held_session(tmp_path)
    with pytest.raises(Exception, match="resume it with the same symbol, strategy and params"):
        held_session(tmp_path, seq_len=9)
