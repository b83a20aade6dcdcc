"""`lstm-bt trade --testnet`: the paper session's decisions become signed orders, each sent once.

Real processes against a fake Binance on 127.0.0.1: `FakeBinance` plays 1-second klines (REST
and stream), `FakeExchange` is the signed account (orders, fills, WebSocket API) and serves the
klines from the same REST root, as Binance does. Two sessions run at once on one market, each
on its own account: one whose first order's answer is lost (503 although the order exists), one
killed with SIGKILL after its first order and started again with the same command, then stopped
by the kill file. The decisions they must send are those of `run_backtest` over the same bars,
which the paper session equals (tests/test_paper_parity.py).
"""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import pytest

from helpers.fake_binance import FakeBinance
from helpers.fake_exchange import API_KEY, SECRET, FakeExchange, hmac_client
from helpers.paper_sessions import journal_count, played_bars
from lstm_bt.cli import main
from lstm_bt.data.bar_times import utc_datetime
from lstm_bt.data.dates import from_ms, parse_date, to_ms
from lstm_bt.orders import session_prefix
from lstm_bt.run.runner import run_backtest
from lstm_bt.strategies import LSTMStrategy

ROOT = Path(__file__).resolve().parents[1]
SYMBOL = "BTCUSDT"
MODEL = {"seq_len": 8, "train_window": 100, "retrain_every": 8, "epochs": 1, "units": (4,),
         "threshold": 0.0, "sizing": "fixed", "stake": 0.1}
MODEL_FLAGS = ["--seq-len", "8", "--train-window", "100", "--retrain-every", "8", "--epochs",
               "1", "--units", "4", "--threshold", "0", "--sizing", "fixed", "--stake", "0.1"]
BARS = 12


def signed_argv(fake, exchange, state, *extra):
    return [sys.executable, "-m", "lstm_bt", "trade", "--testnet", "--symbol", SYMBOL,
            "--interval", "1s", "--state", str(state), "--base-url", exchange.url,
            "--stream-url", fake.stream_url, "--ws-api-url", exchange.ws_api_url,
            "--data-dir", f"{state}-data", *MODEL_FLAGS, *extra]


def start(argv):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LSTM_BT_API_KEY": API_KEY,
           "LSTM_BT_API_SECRET": SECRET}
    return subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)


def wait_until(condition, process, timeout=90.0):
    ends = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            raise AssertionError(f"session ended early: {process.communicate()}")
        assert time.monotonic() < ends, "timed out"
        time.sleep(0.05)


def live_bars(state):
    return journal_count(state, "SELECT COUNT(*) FROM bars WHERE live")


def journal_value(state, query):
    with sqlite3.connect(f"file:{Path(state) / 'journal.sqlite'}?mode=ro", uri=True) as db:
        return db.execute(query).fetchall()


def session_id(state):
    return json.loads(journal_value(state, "SELECT value FROM session WHERE name = "
                                           "'session_id'")[0][0])


def sides_by_bar(exchange, state):
    """`(bar_ms, side)` of each order on the exchange, from its client id, in order."""
    prefix = session_prefix(session_id(state))
    decisions = []
    for order in exchange.orders:
        bar, side = order["clientOrderId"][len(prefix):].split("-")
        decisions.append((int(bar), order["side"]))
        assert side[0] == order["side"][0]
    return decisions


class _Recording(LSTMStrategy):
    made = []

    def notify_order(self, order):
        if order.status == order.Submitted:
            made = to_ms(utc_datetime(order.created.dt))
            self.made.append((made, "BUY" if order.isbuy() else "SELL"))
        super().notify_order(order)


def backtest_decisions(state, fake, exchange, data_dir):
    """`(bar_ms, side)` of every order `run_backtest` makes over the session's bars."""
    data = json.loads((Path(state) / "report.json").read_text())["data"]
    _Recording.made = []
    # backtrader submits an order made at a bar on the next one: run one bar past the
    # session's last, so a decision at that bar is seen, then keep the session's bars only.
    end_ms = to_ms(parse_date(data["end"], "end"))
    fake.wait_for_close(end_ms)  # that bar closes on the fake's clock
    run_backtest(symbol=SYMBOL, interval="1s", start=data["start"],
                 end=from_ms(end_ms + 1000), seed=0, base_url=exchange.url,
                 data_dir=data_dir, cache=False, strategy=_Recording, **MODEL)
    return [decision for decision in _Recording.made if decision[0] < end_ms]


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    root = tmp_path_factory.mktemp("testnet")
    with ExitStack() as stack:
        fake = stack.enter_context(FakeBinance(SYMBOL, "1s", history=150, bars=450,
                                               frame=played_bars(), ping_interval=0.5,
                                               ping_timeout=2.0))
        lost, killed = (stack.enter_context(FakeExchange()) for _ in range(2))
        for exchange in (lost, killed):
            exchange.market = fake
            exchange.add_hmac_key(API_KEY, SECRET)
        lost.inject("lost_answer", status=503, code=-1007)
        kill_file = root / "kill"
        lost_run = start(signed_argv(fake, lost, root / "lost", "--bars", str(BARS)))
        killed_argv = signed_argv(fake, killed, root / "killed", "--kill-file",
                                   str(kill_file), "--flatten-on-kill")
        first = start(killed_argv)
        wait_until(lambda: len(killed.orders) >= 1, first)
        first.send_signal(signal.SIGKILL)
        first.communicate()
        orders_at_kill = len(killed.orders)
        bars_at_kill = live_bars(root / "killed")
        again = start(killed_argv)
        # A new order, or `lost` done and `again` past its start (a new live bar journaled: a
        # kill file there before it would be refused at start, as it must be).
        wait_until(lambda: len(killed.orders) > orders_at_kill or (
            lost_run.poll() is not None and live_bars(root / "killed") > bars_at_kill), again)
        kill_file.touch()
        killed_out = again.communicate(timeout=120)
        lost_out = lost_run.communicate(timeout=120)
        yield {"root": root, "fake": fake, "lost": lost, "killed": killed,
               "lost_run": (lost_run.returncode, *lost_out),
               "killed_run": (again.returncode, *killed_out),
               "orders_at_kill": orders_at_kill}


@pytest.mark.slow
def test_testnet_orders_are_the_paper_decisions_once_each(sessions):
    returncode, out, err = sessions["lost_run"]
    assert returncode == 0, err[-3000:]
    state, exchange = sessions["root"] / "lost", sessions["lost"]
    sent = sides_by_bar(exchange, state)
    assert sent, "the session sent no order"
    assert len({o["clientOrderId"] for o in exchange.orders}) == len(exchange.orders)
    # The first POST answered 503 although it filled: asked for, not sent again.
    assert [entry[3] for entry in exchange.log if entry[0] == "POST"][0] == 503
    assert sent == backtest_decisions(state, sessions["fake"], exchange,
                                      sessions["root"] / "lost-backtest-data")


@pytest.mark.slow
def test_kill_9_then_the_same_command_resumes_without_a_duplicate(sessions):
    returncode, out, err = sessions["killed_run"]
    assert returncode == 0, err[-3000:]
    exchange, state = sessions["killed"], sessions["root"] / "killed"
    ids = [o["clientOrderId"] for o in exchange.orders]
    assert len(set(ids)) == len(ids) and len(ids) > sessions["orders_at_kill"]
    journaled = journal_value(state, "SELECT COUNT(*) FROM order_fills")[0][0]
    assert journaled == len(exchange.trades)


@pytest.mark.slow
def test_the_kill_file_flattens_and_stops(sessions):
    exchange = sessions["killed"]
    assert exchange.orders[-1]["clientOrderId"].endswith("-Sk") or \
        exchange.orders[-1]["side"] == "SELL"
    assert exchange.balances["BTC"] < exchange.step
    assert not exchange.open_orders()


@pytest.mark.slow
def test_keys_are_never_printed_logged_or_journaled(sessions):
    for name in ("lost_run", "killed_run"):
        _, out, err = sessions[name]
        assert SECRET not in out and SECRET not in err
    for path in sessions["root"].rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_an_unknown_open_order_at_start_is_refused_in_one_line(tmp_path, capsys,
                                                                monkeypatch):
    monkeypatch.setenv("LSTM_BT_API_KEY", API_KEY)
    monkeypatch.setenv("LSTM_BT_API_SECRET", SECRET)
    with FakeBinance(SYMBOL, "1s", history=150, bars=10) as fake, FakeExchange() as exchange:
        exchange.market = fake
        client = hmac_client(exchange)
        client.new_order({"symbol": SYMBOL, "side": "BUY", "type": "LIMIT", "quantity": "0.01",
                          "price": "1000", "timeInForce": "GTC"})
        status = main(signed_argv(fake, exchange, tmp_path / "state")[3:])
        err = capsys.readouterr().err.strip().splitlines()
        assert status == 2 and len(err) == 1, err
        assert "has an open BTCUSDT BUY order" in err[0] and SECRET not in err[0]
        assert not [e for e in exchange.log if e[0] == "POST"][1:]
        client.close()


def test_an_existing_kill_file_is_refused_before_anything_is_sent(tmp_path, capsys,
                                                                   monkeypatch):
    monkeypatch.setenv("LSTM_BT_API_KEY", API_KEY)
    monkeypatch.setenv("LSTM_BT_API_SECRET", SECRET)
    (tmp_path / "kill").touch()
    status = main(["trade", "--testnet", "--symbol", SYMBOL, "--interval", "1s", "--state",
                   str(tmp_path / "state"), "--base-url", "http://127.0.0.1:9",
                   "--kill-file", str(tmp_path / "kill")])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1 and "the kill file" in err[0], err
