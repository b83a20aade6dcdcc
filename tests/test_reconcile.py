"""Every start checks the journal against Binance; anything unexplained stops the session."""

from decimal import Decimal

import pytest

from helpers.fake_exchange import FakeExchange, hmac_client
from lstm_bt.errors import ReconcileError
from lstm_bt.orders import (Intent, KillSwitch, LiveOrders, SqliteOrderJournal,
                            client_order_id)

SESSION, BAR = "reconcile-test", 1_704_067_200_000


@pytest.fixture
def exchange():
    with FakeExchange(balances={"BTC": "0.5"}) as exchange:
        yield exchange


def start(exchange, state_dir, **options):
    """A session start: a fresh process's objects on the same journal file."""
    orders = LiveOrders(hmac_client(exchange, recv_window_ms=1000),
                        SqliteOrderJournal(state_dir / "orders.sqlite"), SESSION, "BTCUSDT",
                        settle_s=0.2, backoff=0.05, **options)
    return orders, orders.start()


def foreign_order(exchange, kind="MARKET"):
    """An order placed on the account by someone else."""
    params = {"symbol": "BTCUSDT", "side": "BUY", "type": kind, "quantity": "0.01",
              "newClientOrderId": "web_manual_1"}
    if kind == "LIMIT":
        params.update(price="40000", timeInForce="GTC")
    with hmac_client(exchange) as client:
        client.new_order(params)


def one_line(caught):
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_the_first_start_records_the_balances_it_starts_from(exchange, tmp_path):
    orders, found = start(exchange, tmp_path)
    assert found.position == 0 and found.balances["BTC"] == Decimal("0.5")
    assert orders.journal.value("start_balances") == {"BTC": "0.5", "USDT": "10000"}
    orders.submit(BAR, "BUY", "0.02", price="50000")
    orders, found = start(exchange, tmp_path)  # a restart explains the new balance
    assert found.position == Decimal("0.02") - Decimal("0.00002")


def test_an_open_order_the_journal_does_not_know_stops_the_session(exchange, tmp_path):
    foreign_order(exchange, "LIMIT")
    with pytest.raises(ReconcileError) as caught:
        start(exchange, tmp_path)
    assert "open BTCUSDT BUY order 'web_manual_1'" in one_line(caught)


def test_an_execution_of_an_unknown_order_stops_the_session(exchange, tmp_path):
    orders, _ = start(exchange, tmp_path)
    orders.submit(BAR, "BUY", "0.02", price="50000")
    foreign_order(exchange)  # filled at once: never open
    with pytest.raises(ReconcileError) as caught:
        start(exchange, tmp_path)
    assert "execution" in one_line(caught) and "buy 0.01000000" in one_line(caught)


def test_a_balance_the_journal_cannot_explain_stops_the_session(exchange, tmp_path):
    start(exchange, tmp_path)
    exchange.balances["BTC"] += Decimal("0.1")  # a deposit, or trading elsewhere
    with pytest.raises(ReconcileError) as caught:
        start(exchange, tmp_path)
    assert "Binance holds 0.6 BTC; the journal explains 0.5" in one_line(caught)


def test_fills_missed_while_stopped_are_caught_up_at_start(exchange, tmp_path):
    orders, _ = start(exchange, tmp_path)
    cid = client_order_id(SESSION, BAR, "BUY")
    orders.journal.record_intent(Intent(cid, "BTCUSDT", "BUY", "LIMIT", "0.02", BAR))
    orders.tracker.apply_order(orders.client.new_order({
        "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
        "quantity": "0.02", "price": "49000", "newClientOrderId": cid}))
    exchange.execute(exchange.orders[0]["orderId"], "0.005", "48900")
    exchange.execute(exchange.orders[0]["orderId"], "0.015", "48800")  # while stopped
    orders, found = start(exchange, tmp_path)
    assert [(f.qty, f.price) for f in orders.journal.fills()] == [
        ("0.00500000", "48900.00000000"), ("0.01500000", "48800.00000000")]
    assert found.position == Decimal("0.02") - Decimal("0.00002")
    assert found.open_orders == []


def test_the_kill_switch_cancels_open_orders_and_flattens(exchange, tmp_path):
    switch = KillSwitch(tmp_path / "STOP", signum=None)
    orders, _ = start(exchange, tmp_path, kill_switch=switch)
    orders.submit(BAR, "BUY", "0.02", price="50000")
    cid = client_order_id(SESSION, BAR + 1, "BUY")
    orders.journal.record_intent(Intent(cid, "BTCUSDT", "BUY", "LIMIT", "0.01", BAR + 1))
    orders.tracker.apply_order(orders.client.new_order({
        "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
        "quantity": "0.01", "price": "49000", "newClientOrderId": cid}))
    assert orders.step() is False
    (tmp_path / "STOP").touch()
    assert orders.step() is True
    flat = orders.kill(BAR + 2, price="50000", flatten=True)
    assert exchange.open_orders() == [] and orders.journal.orders()[cid].status == "CANCELED"
    assert flat.status == "FILLED" and flat.client_order_id.endswith("-Sk")
    assert orders.position() == 0
    assert exchange.balances["BTC"] == Decimal("0.5")  # what the session did not buy stays
