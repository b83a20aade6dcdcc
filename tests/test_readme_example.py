"""The documented examples run as written: the README's Python script against the loopback
Binance server, the `btrun` command of docs/python-api.md on a backtrader CSV, and the copyable
cerebro script."""

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from lstm_bt.data.synthetic import ar1_returns

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
PYTHON_API = (ROOT / "docs" / "python-api.md").read_text(encoding="utf-8")

pytestmark = pytest.mark.slow


def _block(section, language, text=README):
    """The first ```language block after the heading `section` of `text`."""
    after = text.split(f"## {section}\n", 1)[1]
    return re.search(rf"```{language}\n(.*?)```", after, re.DOTALL).group(1)


def test_readme_python_example_runs_against_binance(binance_server, tmp_path, monkeypatch,
                                                    capsys):
    monkeypatch.setenv("LSTM_BT_BINANCE_URL", binance_server.url)
    monkeypatch.setenv("LSTM_BT_DATA_DIR", str(tmp_path / "feeds"))
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile(_block("Use lstm-bt in your backtrader script", "python"), "README.md", "exec"),
         namespace)
    forecasts = namespace["forecasts"]
    assert len(forecasts) == 31 * 24  # every hour of January 2024, from `start`
    assert str(forecasts["datetime"].iloc[0]) == "2024-01-01 00:00:00"
    assert "sortinoratio" in capsys.readouterr().out
    assert binance_server.klines_requests  # the bars came over HTTP, into the store
    assert (tmp_path / "feeds").is_dir()


def test_readme_btrun_command_runs_lstm_bt_classes(tmp_path):
    frame = ar1_returns(720, interval="1h", seed=2)
    rows = frame[["open", "high", "low", "close", "volume"]].copy()
    rows.insert(0, "Time", frame.index.strftime("%H:%M:%S"))
    rows.insert(0, "Date", frame.index.strftime("%Y-%m-%d"))
    rows["OpenInterest"] = 0
    rows.to_csv(tmp_path / "bars.csv", index=False, header=[
        "Date", "Time", "Open", "High", "Low", "Close", "Volume", "OpenInterest"])
    command = shlex.split(_block("backtrader's `btrun`", "bash", PYTHON_API)
                          .replace("\\\n", " "))
    assert command[0] == "btrun"
    command = [str(Path(sys.executable).with_name("btrun")), *command[1:]]
    command[command.index("bars.csv")] = str(tmp_path / "bars.csv")
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SortinoRatio:" in done.stdout and "ForecastSkill:" in done.stdout
    assert re.search(r"- n: [1-9]\d*", done.stdout)  # forecasts were made and scored


def test_cerebro_script_runs_as_shipped():
    done = subprocess.run([sys.executable, "examples/cerebro_script.py"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    figures = re.search(
        r"^return (-?\d+\.\d\d) % \(buy and hold (-?\d+\.\d\d) %\), Sortino (\S+), "
        r"max drawdown (\d+\.\d\d) %, trades (\d+)$", done.stdout, re.MULTILINE)
    assert figures, done.stdout
    # Buy and hold needs no model: from the close of the first measured bar (2024-02-01) to
    # the last one before the end (2024-03-01, exclusive), on the script's own bars.
    bars = ar1_returns(2_000, interval="1h", start="2024-01-01", seed=7)["close"]
    held = 100 * (bars["2024-02-29 23:00"] / bars["2024-02-01 00:00"] - 1)
    assert float(figures[2]) == pytest.approx(held, abs=0.005)
    assert int(figures[5]) > 0 and float(figures[1]) != float(figures[2])
    skill = re.search(r"^forecast hit rate (0\.\d{3}) \(p = (\d\.\d{3})\), "
                      r"repeat-last-move baseline (0\.\d{3})$", done.stdout, re.MULTILINE)
    assert skill, done.stdout
