"""`lstm-bt backtest --from runs/x/report.json [overrides]`: the same data and params again,
with only what the command line changes."""

import json

import pytest

from lstm_bt.cli import build_parser, main
from lstm_bt.cli.backtest import _apply_report
from lstm_bt.run.run_dir import to_json_value
from lstm_bt.run.run_params import DEFAULTS, RUN_PARAMS
from lstm_bt.run.runner import DEMO_SYMBOL, strategy_params
from lstm_bt.strategies import LSTMStrategy

def report_of_a_run(tmp_path, symbol="BTCUSDT"):
    """report.json's `data` and `params` as `run_backtest` writes them."""
    params = strategy_params(LSTMStrategy, {"seq_len": 8, "units": (4,), "threshold": 0.001})
    report = {"data": {"symbol": symbol, "interval": "1h", "start": "2024-03-01T00:00:00",
                       "end": "2024-04-01T00:00:00", "bars": 744},
              "params": {"strategy": "LSTMStrategy", **params, "cash": 5000.0,
                         "commission": 0.0005, "slippage": 0.0, "seed": 3}}
    path = tmp_path / "report.json"
    path.write_text(json.dumps(to_json_value(report)))
    return path, report


def rerun(*argv):
    """The arguments and strategy params `lstm-bt backtest ARGV` would run with."""
    args = build_parser().parse_args(["backtest", *argv])
    return args, _apply_report(args, DEMO_SYMBOL, LSTMStrategy)


def test_from_takes_the_reports_data_and_params_and_the_flags_given_override(tmp_path):
    path, report = report_of_a_run(tmp_path)
    args, params = rerun("--from", str(path), "--threshold", "0.003", "--seed", "5")
    assert (args.symbol, args.interval, args.start, args.end) == (
        "BTCUSDT", "1h", "2024-03-01T00:00:00", "2024-04-01T00:00:00")
    assert not args.demo and args.csv is None
    assert (args.cash, args.commission, args.seed) == (5000.0, 0.0005, 5)
    expected = {k: v for k, v in report["params"].items()
                if k not in ("strategy", "cash", "commission", "slippage", "seed")}
    assert params == {**expected, "threshold": 0.003}
    assert params["units"] == (4,)  # JSON's list back as the tuple the strategy takes
    # Same strategy params as the report's, once the override is put back.
    assert strategy_params(LSTMStrategy, {**params, "threshold": 0.001}) == expected


def test_from_a_demo_report_reruns_the_demo_data_and_a_csv_flag_replaces_the_source(tmp_path):
    path, _ = report_of_a_run(tmp_path, symbol=DEMO_SYMBOL)
    args, _ = rerun("--from", str(path))
    assert args.demo and args.symbol is None
    args, _ = rerun("--from", str(path), "--csv", "bars.csv", "--end", "2024-03-15")
    assert not args.demo and args.csv == "bars.csv"
    assert (args.start, args.end) == ("2024-03-01T00:00:00", "2024-03-15")


@pytest.mark.parametrize("content, message", [
    (None, "not a readable report.json"),
    ("{broken", "not a readable report.json"),
    ('{"data": {}, "params": {"strategy": "RsiMacd"}}', "--strategy-path FILE:RsiMacd"),
])
def test_a_bad_report_is_refused_in_one_line(tmp_path, capsys, content, message):
    report = tmp_path / "report.json"
    if content is not None:
        report.write_text(content)
    assert main(["backtest", "--from", str(report), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "Traceback" not in err and len(err.splitlines()) == 1


def test_a_flag_given_at_its_default_value_still_overrides_the_report(tmp_path):
    path, _ = report_of_a_run(tmp_path)  # cash 5000, seed 3
    args, _ = rerun("--from", str(path), "--cash", "10000", "--seed", "0")
    assert (args.cash, args.seed, args.commission) == (10_000.0, 0, 0.0005)


def test_without_from_the_broker_and_run_flags_left_out_take_their_declared_defaults():
    args, _ = rerun("--demo")
    assert {name: getattr(args, name) for name in RUN_PARAMS} == DEFAULTS


def recorded(tmp_path, **data):
    """A report.json whose `data` records a source, as `run_backtest` writes it."""
    path, report = report_of_a_run(tmp_path)
    report["data"].update(data)
    path.write_text(json.dumps(to_json_value(report)))
    return path


def test_from_a_file_report_rereads_the_recorded_file_keeping_the_recorded_symbol(tmp_path):
    bars = tmp_path / "bars.csv"
    bars.write_text("")  # only its existence is checked before the run reads it
    path = recorded(tmp_path, source="file", path=str(bars))
    args, _ = rerun("--from", str(path))
    assert (args.csv, args.symbol, args.interval) == (str(bars), "BTCUSDT", "1h")
    assert not args.demo and args.base_url is None
    args, _ = rerun("--from", str(path), "--csv", "other.csv")  # a data flag replaces it
    assert (args.csv, args.symbol) == ("other.csv", None)


def test_from_a_binance_report_uses_the_recorded_rest_root_unless_one_is_given(tmp_path):
    path = recorded(tmp_path, source="binance", base_url="http://127.0.0.1:8123")
    args, _ = rerun("--from", str(path))
    assert (args.symbol, args.interval, args.base_url) == ("BTCUSDT", "1h",
                                                           "http://127.0.0.1:8123")
    assert args.csv is None and not args.demo
    args, _ = rerun("--from", str(path), "--base-url", "http://127.0.0.1:9")
    assert args.base_url == "http://127.0.0.1:9"


@pytest.mark.parametrize("data, message", [
    ({"source": "file", "path": "/nowhere/lstm-bt/bars.csv"},
     "the run read the kline file /nowhere/lstm-bt/bars.csv, which is not there now; "
     "give --csv PATH"),
    ({"source": "frame"}, "a kline frame passed from Python"),
])
def test_a_source_the_command_cannot_read_again_is_refused_without_the_network(
        tmp_path, capsys, monkeypatch, data, message):
    monkeypatch.setenv("LSTM_BT_BINANCE_URL", "http://127.0.0.1:9")  # a lost refusal fails
    monkeypatch.setenv("LSTM_BT_RETRY_BUDGET", "1")
    path = recorded(tmp_path, **data)
    assert main(["backtest", "--from", str(path), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err


@pytest.mark.slow
def test_a_csv_run_reruns_from_its_report_in_another_directory(tmp_path, monkeypatch, capsys):
    from lstm_bt.binance.files import write_kline_csv
    from lstm_bt.run.runner import demo_klines

    monkeypatch.setenv("LSTM_BT_BINANCE_URL", "http://127.0.0.1:9")  # never Binance
    monkeypatch.setenv("LSTM_BT_RETRY_BUDGET", "1")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    write_kline_csv(tmp_path / "a" / "bars.csv", demo_klines().iloc[:60], "1h")
    tiny = ["--seq-len", "4", "--train-window", "40", "--retrain-every", "100", "--epochs",
            "1", "--units", "2", "--no-cache", "--quiet"]
    monkeypatch.chdir(tmp_path / "a")  # a relative --csv is recorded as an absolute path
    assert main(["backtest", "--csv", "bars.csv", "--symbol", "BTCUSDT", *tiny,
                 "--out", "first"]) == 0
    first = json.loads((tmp_path / "a" / "first" / "report.json").read_text())
    assert first["data"]["path"] == str(tmp_path / "a" / "bars.csv")
    monkeypatch.chdir(tmp_path / "b")
    assert main(["backtest", "--from", str(tmp_path / "a" / "first" / "report.json"),
                 "--out", "again", "--quiet"]) == 0
    again = json.loads((tmp_path / "b" / "again" / "report.json").read_text())
    assert again["data"] == first["data"] and again["data"]["symbol"] == "BTCUSDT"
    assert again["params"] == first["params"]
    assert ((tmp_path / "b" / "again" / "forecasts.csv").read_bytes()
            == (tmp_path / "a" / "first" / "forecasts.csv").read_bytes())
    capsys.readouterr()
