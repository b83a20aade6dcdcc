"""A session process killed (kill -9) mid-order: on restart, no duplicate, position reconciled."""

import json
import os
import subprocess
import sys
from decimal import Decimal

import pytest

from helpers.cli_runs import ROOT
from helpers.fake_exchange import API_KEY, SECRET, FakeExchange
from helpers.order_process import BAR, SESSION
from lstm_bt.orders import SqliteOrderJournal, client_order_id

SCRIPT = ROOT / "tests" / "helpers" / "order_process.py"
CID = client_order_id(SESSION, BAR, "BUY")


@pytest.fixture
def exchange():
    with FakeExchange() as exchange:
        exchange.add_hmac_key(API_KEY, SECRET)
        yield exchange


def session(exchange, journal, *extra):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LSTM_BT_API_KEY": API_KEY,
           "LSTM_BT_API_SECRET": SECRET}
    return subprocess.Popen([sys.executable, str(SCRIPT), exchange.url, str(journal), *extra],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finished(process):
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err[-2000:]
    return [json.loads(line) for line in out.splitlines()]


def posts(exchange):
    return [entry for entry in exchange.log if entry[0] == "POST"]


def test_killed_between_journaling_and_sending(exchange, tmp_path):
    journal = tmp_path / "orders.sqlite"
    died = session(exchange, journal, "--die-after-journal")
    died.wait(timeout=60)
    assert died.returncode == -9
    assert exchange.orders == [] and posts(exchange) == []
    left = SqliteOrderJournal(journal)
    assert [i.client_order_id for i in left.intents_unresolved()] == [CID]
    assert left.intents()[0].sent_ms is not None
    left.close()
    start, decision = finished(session(exchange, journal))
    assert start == {"resolved": ["NOT_PLACED"], "position": "0"}
    assert decision == {"status": "NOT_PLACED", "position": "0"}  # never sent late
    assert exchange.orders == [] and posts(exchange) == []


def test_killed_between_sending_and_the_answer(exchange, tmp_path):
    journal = tmp_path / "orders.sqlite"
    exchange.inject("hold_answer")
    process = session(exchange, journal)
    assert exchange.order_posted.wait(60)
    process.kill()  # SIGKILL while Binance holds the answer
    process.wait(timeout=60)
    assert process.returncode == -9
    exchange.release_answer.set()
    start, decision = finished(session(exchange, journal))
    bought = Decimal("0.02") - Decimal("0.00002")  # the commission is charged in BTC
    assert start["resolved"] == ["FILLED"] and Decimal(start["position"]) == bought
    assert decision["status"] == "FILLED" and Decimal(decision["position"]) == bought
    assert len(exchange.orders_with_client_id(CID)) == 1 and len(posts(exchange)) == 1
    assert exchange.balances["BTC"] == bought
