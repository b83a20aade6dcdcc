"""The signed REST client against a fake exchange that checks signatures and timestamps."""

import pytest

from helpers.fake_exchange import FakeExchange, hmac_client
from lstm_bt.binance.account import SignedClient
from lstm_bt.binance.signing import ApiKey
from lstm_bt.errors import BinanceError, SendStatusUnknown
from test_signing import ed25519_pem

ORDER = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.01",
         "newClientOrderId": "lbt-test-1"}


@pytest.fixture
def exchange():
    with FakeExchange() as exchange:
        yield exchange


def posts(exchange):
    return [entry for entry in exchange.log if entry[0] == "POST"]


def test_hmac_and_ed25519_requests_pass_the_exchange_checks(exchange):
    public, pem = ed25519_pem()
    exchange.add_ed25519_key("ed", public)
    with hmac_client(exchange) as hmac_signed, \
            SignedClient(ApiKey("ed", ed25519_pem=pem), exchange.url) as ed_signed:
        assert hmac_signed.new_order(ORDER)["status"] == "FILLED"
        assert ed_signed.get_order("BTCUSDT", "lbt-test-1")["executedQty"] == "0.01000000"
        assert ed_signed.balances()["BTC"] > 0
    assert all(entry[3] == 200 for entry in exchange.log)
    assert all(entry[2]["recvWindow"] == "5000" for entry in exchange.log if "signature" in
               entry[2])


def test_a_wrong_secret_is_refused_with_the_fix(exchange):
    hmac_client(exchange).close()
    with SignedClient(ApiKey("test-api-key", hmac_secret="wrong"), exchange.url) as client:
        with pytest.raises(BinanceError, match="-1022.*key file belongs to LSTM_BT_API_KEY"):
            client.account()


def test_server_clock_offset_is_measured_once_and_kept(exchange):
    exchange.clock_offset_ms = -45_000  # our clock 45 s ahead of Binance's
    with hmac_client(exchange) as client:
        for _ in range(3):
            client.open_orders("BTCUSDT")
        assert abs(client.offset_ms + 45_000) < 1_000
    assert [entry[1] for entry in exchange.log].count("/api/v3/time") == 1
    assert all(entry[4] is None for entry in exchange.log)


def test_minus_1021_remeasures_the_clock_and_sends_the_order_once_more(exchange):
    with hmac_client(exchange) as client:
        client.sync_time()
        exchange.clock_offset_ms = 30_000  # Binance's clock jumps: our timestamp is stale
        sent_at = []
        answer = client.new_order(ORDER, before_send=sent_at.append)
    assert answer["status"] == "FILLED"
    assert [entry[4] for entry in posts(exchange)] == [-1021, None]
    assert len(exchange.orders_with_client_id("lbt-test-1")) == 1
    assert sent_at[1] - sent_at[0] > 25_000  # signed anew with the re-measured clock


def test_a_second_minus_1021_is_an_error_naming_the_clock(exchange):
    with hmac_client(exchange) as client:
        exchange.inject("bad_timestamp", times=2)
        with pytest.raises(BinanceError, match="sync the system clock"):
            client.new_order(ORDER)
    assert exchange.orders == []


@pytest.mark.parametrize("status, code", [(503, -1007), (500, None), (408, -1007)])
def test_a_lost_order_answer_is_not_resent(exchange, status, code):
    exchange.inject("lost_answer", status=status, code=code or 0)
    with hmac_client(exchange, retries=5) as client:
        with pytest.raises(SendStatusUnknown):
            client.new_order(ORDER)
    assert len(posts(exchange)) == 1
    assert len(exchange.orders_with_client_id("lbt-test-1")) == 1  # it was created


def test_a_timed_out_order_post_is_not_resent(exchange):
    exchange.inject("hold_answer")
    with hmac_client(exchange, deadline=0.5, retries=5) as client:
        with pytest.raises(SendStatusUnknown, match="no answer"):
            client.new_order(ORDER)
    exchange.release_answer.set()
    # A re-sent market order would be accepted: its first had filled, freeing the client id.
    assert len(exchange.orders_with_client_id("lbt-test-1")) == 1


def test_queries_are_retried_but_a_missing_order_is_none(exchange):
    exchange.inject("lost_answer", status=502)
    with hmac_client(exchange) as client:
        assert client.open_orders("BTCUSDT") == []
        assert client.get_order("BTCUSDT", "nobody") is None
