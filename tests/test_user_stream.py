"""Fills from the user data stream (WebSocket API subscription), polling when it is down."""

import time
from decimal import Decimal

import pytest

from helpers.fake_exchange import FakeExchange, hmac_client
from lstm_bt.binance.user_stream import UserDataStream
from lstm_bt.orders import LiveOrders, SqliteOrderJournal
from test_signing import ed25519_pem

BAR = 1_704_067_200_000


def wait_for(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


@pytest.fixture
def exchange():
    with FakeExchange() as exchange:
        yield exchange


@pytest.fixture
def orders(exchange, tmp_path):
    journal = SqliteOrderJournal(tmp_path / "orders.sqlite")
    client = hmac_client(exchange)
    orders = LiveOrders(client, journal, "stream-test", "BTCUSDT",
                        ws_api_url=exchange.ws_api_url, backoff=0.05)
    yield orders
    orders.close()
    journal.close()


def rest_calls(exchange, path):
    return sum(1 for entry in exchange.log if entry[1] == path)


def resting_buy(exchange, orders, qty="0.02"):
    """A limit order placed on the exchange as if by this session (the stream reports it)."""
    from lstm_bt.orders import Intent, client_order_id

    cid = client_order_id("stream-test", BAR, "BUY")
    orders.journal.record_intent(Intent(cid, "BTCUSDT", "BUY", "LIMIT", qty, BAR))
    answer = orders.client.new_order({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                                      "timeInForce": "GTC", "quantity": qty,
                                      "price": "49000", "newClientOrderId": cid})
    orders.tracker.apply_order(answer)
    return answer["orderId"], cid


def test_the_signature_subscription_is_checked_for_hmac_and_ed25519(exchange):
    public, pem = ed25519_pem()
    exchange.add_ed25519_key("ed", public)
    from lstm_bt.binance.signing import ApiKey

    good, bad = ApiKey("ed", ed25519_pem=pem), ApiKey("ed", hmac_secret="not-the-key")
    streams = [UserDataStream(exchange.ws_api_url, key, print, lambda: int(time.time() * 1000),
                              backoff=60).start() for key in (good, bad)]
    assert streams[0].wait_up(5)
    wait_for(lambda: streams[1].last_error is not None)
    for stream in streams:
        stream.stop()
    assert not streams[1].up and "-1022" in streams[1].last_error
    assert exchange.ws_api.requests[0]["method"] == "userDataStream.subscribe.signature"


def test_partial_fills_arrive_by_the_stream_without_polling(exchange, orders):
    orders.start()
    assert orders.stream.wait_up(5)
    order_id, cid = resting_buy(exchange, orders)
    orders.step()  # the one poll after connecting
    polls = rest_calls(exchange, "/api/v3/order")
    exchange.execute(order_id, "0.005", "48990")
    exchange.execute(order_id, "0.007", "48980")
    wait_for(lambda: len(orders.journal.fills()) == 2)
    assert [(f.qty, f.price) for f in orders.journal.fills()] == [
        ("0.00500000", "48990.00000000"), ("0.00700000", "48980.00000000")]
    assert orders.journal.orders()[cid].status == "PARTIALLY_FILLED"
    assert orders.step() is False
    assert rest_calls(exchange, "/api/v3/order") == polls  # the stream sufficed


def test_a_dropped_stream_falls_back_to_polling_then_reconnects(exchange, orders):
    orders.start()
    assert orders.stream.wait_up(5)
    order_id, cid = resting_buy(exchange, orders)
    orders.step()
    exchange.ws_api.refuse = True
    exchange.ws_api.drop()
    wait_for(lambda: not orders.stream.up)
    exchange.execute(order_id, "0.02", "48950")  # filled while nobody listens
    assert orders.journal.fills() == []
    orders.step()  # polls: the stream is down
    assert [(f.qty, f.price) for f in orders.journal.fills()] == [("0.02000000", "48950.00000000")]
    assert orders.journal.orders()[cid].status == "FILLED"
    exchange.ws_api.refuse = False
    wait_for(lambda: orders.stream.up)
    assert orders.stream.connections == 2
    polls = rest_calls(exchange, "/api/v3/order")
    orders.step()  # one poll after the reconnection
    orders.step()
    assert rest_calls(exchange, "/api/v3/order") == polls  # the filled order needs no query
    assert orders.position() == Decimal("0.02") - Decimal("0.00002")


def test_an_unreachable_websocket_api_means_polling(exchange, orders):
    exchange.ws_api.refuse = True
    orders.start()
    order_id, cid = resting_buy(exchange, orders)
    exchange.execute(order_id, "0.01")
    orders.step()
    assert orders.journal.orders()[cid].executed_qty == "0.01"
    wait_for(lambda: orders.stream.last_error is not None)
    assert not orders.stream.up and "503" in orders.stream.last_error


def test_a_journal_failure_in_the_stream_thread_stops_the_session(exchange, orders):
    orders.start()
    assert orders.stream.wait_up(5)
    resting_buy(exchange, orders)
    orders.journal.close()  # writes now fail
    exchange.execute(exchange.orders[0]["orderId"], "0.01")
    wait_for(lambda: orders.stream.failure is not None)
    with pytest.raises(Exception, match="closed"):
        orders.step()
