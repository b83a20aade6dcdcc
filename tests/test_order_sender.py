"""Sent once: each decision's order reaches Binance at most once, whatever the answer did."""

from decimal import Decimal

import pytest

from helpers.fake_exchange import FakeExchange, hmac_client
from lstm_bt.orders import (LimitGuard, OrderSender, OrderTracker, RiskLimits,
                            SqliteOrderJournal, client_order_id, net_change)

SESSION, BAR = "sender-test", 1_704_067_200_000


@pytest.fixture
def exchange():
    with FakeExchange() as exchange:
        yield exchange


@pytest.fixture
def journal(tmp_path):
    journal = SqliteOrderJournal(tmp_path / "orders.sqlite")
    yield journal
    journal.close()


def make_sender(exchange, journal, *, limits=None, fills=None, **client_options):
    client = hmac_client(exchange, recv_window_ms=1000, **client_options)
    tracker = OrderTracker(client, journal, "BTCUSDT",
                           on_fill=fills.append if fills is not None else None)
    guard = LimitGuard(limits, journal) if limits else None
    return OrderSender(client, journal, tracker, client.symbol_rules("BTCUSDT"), SESSION,
                       guard=guard, settle_s=0.5, backoff=0.05, resolve_budget_s=10)


def cid(side="BUY", bar=BAR):
    return client_order_id(SESSION, bar, side)


def test_a_decision_is_sent_once_and_repeating_it_returns_its_outcome(exchange, journal):
    sender = make_sender(exchange, journal)
    first = sender.submit(BAR, "BUY", "0.0123456", price="50000")
    again = sender.submit(BAR, "BUY", "0.0123456", price="50000")
    assert first == again and first.status == "FILLED" and first.executed_qty == "0.01234"
    assert len(exchange.orders_with_client_id(cid())) == 1
    assert [e[0] for e in exchange.log].count("POST") == 1


@pytest.mark.parametrize("status, code", [(503, -1007), (502, 0), (400, -1006)])
def test_a_lost_answer_is_resolved_by_asking_never_by_sending_again(exchange, journal, status,
                                                                    code):
    exchange.inject("lost_answer", status=status, code=code)
    state = make_sender(exchange, journal).submit(BAR, "BUY", "0.01", price="50000")
    assert state.status == "FILLED"
    assert len(exchange.orders_with_client_id(cid())) == 1
    assert [f.trade_id for f in journal.fills()] == [exchange.trades[0]["id"]]


def test_a_timeout_is_resolved_by_asking_and_the_late_answer_changes_nothing(exchange, journal):
    exchange.inject("hold_answer")
    sender = make_sender(exchange, journal, deadline=0.5)
    state = sender.submit(BAR, "BUY", "0.01", price="50000")
    exchange.release_answer.set()
    assert state.status == "FILLED"
    assert len(exchange.orders_with_client_id(cid())) == 1


def test_the_query_is_asked_again_with_waits_while_binance_does_not_show_the_order(
        exchange, journal):
    exchange.inject("lost_answer")
    exchange.inject("hide_orders", times=3)
    state = make_sender(exchange, journal).submit(BAR, "BUY", "0.01", price="50000")
    assert state.status == "FILLED"
    queries = [e for e in exchange.log if e[0] == "GET" and e[1] == "/api/v3/order"]
    assert [e[4] for e in queries] == [-2013, -2013, -2013, None]


def test_an_order_binance_never_received_is_not_placed_after_its_recv_window(exchange,
                                                                            journal):
    sender = make_sender(exchange, journal)
    sender.client.sync_time()
    exchange.inject("hide_orders", times=1000)  # as if the POST had never arrived
    exchange.inject("lost_answer")
    state = sender.submit(BAR, "BUY", "0.01", price="50000")
    assert state.status == "NOT_PLACED" and "can no longer accept it" in state.reason
    intent = journal.intents()[0]
    last_query = [e for e in exchange.log if e[1] == "/api/v3/order" and e[0] == "GET"][-1]
    assert int(last_query[2]["timestamp"]) > intent.sent_ms + 1000 + 500
    assert sender.submit(BAR, "BUY", "0.01", price="50000") == state  # and never re-sent


@pytest.mark.parametrize("tighten, reason", [
    (lambda ex: setattr(ex, "min_notional", Decimal(10_000)), "-1013: Filter failure: NOTIONAL"),
    (lambda ex: ex.balances.update(USDT=Decimal(1)),
     "-2010: Account has insufficient balance for requested action."),
])
def test_a_refusal_is_journaled_with_binances_reason_and_not_retried(exchange, journal,
                                                                     tighten, reason):
    sender = make_sender(exchange, journal)  # reads the rules before they tighten
    tighten(exchange)
    state = sender.submit(BAR, "BUY", "0.01", price="50000")
    assert (state.status, state.reason) == ("REFUSED", reason)
    assert sender.submit(BAR, "BUY", "0.01", price="50000") == state
    assert [e[0] for e in exchange.log].count("POST") == 1 and exchange.orders == []


def test_what_the_filters_refuse_is_not_sent(exchange, journal):
    state = make_sender(exchange, journal).submit(BAR, "BUY", "0.00005", price="50000")
    assert state.status == "REFUSED" and "NOTIONAL" in state.reason
    assert [e[0] for e in exchange.log].count("POST") == 0


def test_partial_fills_are_applied_at_their_own_size_price_and_commission(exchange, journal):
    exchange.market_splits = (Decimal("0.5"), Decimal("0.3"), Decimal("0.2"))
    exchange.commission_asset = "BNB"
    exchange.balances["BNB"] = Decimal(1)
    fills = []
    sender = make_sender(exchange, journal, fills=fills)
    sender.submit(BAR, "BUY", "0.01", price="50000")
    assert [(f.qty, f.price) for f in fills] == [
        ("0.00500000", "50000.00000000"), ("0.00300000", "50000.01000000"),
        ("0.00200000", "50000.02000000")]
    assert {f.commission_asset for f in fills} == {"BNB"}
    rules = sender.rules
    assert net_change(fills, "BTC", rules) == exchange.balances["BTC"] == Decimal("0.01")
    assert net_change(fills, "USDT", rules) == exchange.balances["USDT"] - Decimal(10_000)
    assert net_change(fills, "BNB", rules) == exchange.balances["BNB"] - 1


def test_limits_refuse_before_sending(exchange, journal):
    limits = RiskLimits(max_notional=Decimal(1000), max_daily_loss=Decimal(50),
                        max_orders_per_minute=2)
    sender = make_sender(exchange, journal, limits=limits)
    big = sender.submit(BAR, "BUY", "0.1", price="50000", equity=10_000)
    assert big.status == "REFUSED" and "--max-notional 1000" in big.reason
    assert sender.submit(BAR + 1, "BUY", "0.01", price="50000", equity=10_000).status == "FILLED"
    assert sender.submit(BAR + 2, "SELL", "0.005", price="50000", equity=10_000).status == "FILLED"
    busy = sender.submit(BAR + 3, "SELL", "0.001", price="50000", equity=10_000)
    assert busy.status == "REFUSED" and "--max-orders-per-minute 2" in busy.reason
    sender.guard.limits = RiskLimits(max_daily_loss=Decimal(50))
    down = sender.submit(BAR + 4, "BUY", "0.001", price="50000", equity=9_900)
    assert down.status == "REFUSED" and "only selling" in down.reason
    assert sender.submit(BAR + 5, "SELL", "0.001", price="50000", equity=9_900).status == "FILLED"
    assert [e[0] for e in exchange.log].count("POST") == 3
