"""At every start, the journal checked against Binance before anything is sent.

In this order: every intent without an outcome is resolved (asked for, never re-sent); every
order the journal holds open is asked about, and its missing executions fetched; then Binance's
open orders, its executions since the session began and the base asset's balance must all be
explained by the journal. Anything it cannot explain (an order it never sent, an execution of
an unknown order, a balance that differs from the session's start plus its fills) raises
`ReconcileError` with one line saying what and what to do: the session stops instead of trading
on a position it does not know.

The first start records the balances the session starts from; later starts compare with them.
"""

import logging
from dataclasses import dataclass
from decimal import Decimal

from ..binance.filters import as_decimal, decimal_text
from ..errors import ReconcileError
from .tracker import net_change

__all__ = ["reconcile", "Reconciliation", "START_BALANCES", "START_MS"]

logger = logging.getLogger(__name__)

START_BALANCES = "start_balances"
START_MS = "start_ms"


@dataclass(frozen=True)
class Reconciliation:
    """What a start found.

    Attributes:
        position: the base asset this session holds (its fills, commissions included).
        balances: Binance's balances of the base and quote assets.
        resolved: outcomes of the intents that had none.
        open_orders: client ids of this session's orders still open.
    """

    position: Decimal
    balances: dict
    resolved: list
    open_orders: list


def reconcile(sender, *, tolerance=Decimal("0.00000001")):
    """Check the journal against Binance; raise `ReconcileError` on anything unexplained.

    Args:
        sender: the session's `OrderSender` (its client, journal, tracker and rules are used).
        tolerance: largest base asset difference taken as equal. Defaults to 1e-8 (Binance's
            precision).

    Returns:
        A `Reconciliation`.
    """
    client, journal, tracker, rules = sender.client, sender.journal, sender.tracker, sender.rules
    symbol = rules.symbol
    resolved = sender.resolve_unresolved()
    tracker.poll()
    orders = journal.orders()
    for order in client.open_orders(symbol):
        if order["clientOrderId"] not in orders:
            raise ReconcileError(
                f"Binance has an open {symbol} {order['side']} order {order['clientOrderId']!r} "
                f"(id {order['orderId']}) this session's journal does not know; cancel it on "
                f"Binance, or trade from another account, before starting again.")
    start_ms = journal.value(START_MS)
    if start_ms is None:
        start_ms = client.server_ms()
        journal.set_value(START_MS, start_ms)
    _check_executions(client, journal, tracker, symbol, start_ms)
    balances = client.balances()
    base, quote = rules.base_asset, rules.quote_asset
    held = {asset: balances.get(asset, Decimal(0)) for asset in (base, quote)}
    start = journal.value(START_BALANCES)
    if start is None:
        start = {asset: decimal_text(amount) for asset, amount in held.items()}
        journal.set_value(START_BALANCES, start)
        logger.info("session starts from %s", start)
    fills = journal.fills()
    position = net_change(fills, base, rules)
    expected = as_decimal(start[base]) + position
    if abs(held[base] - expected) > tolerance:
        raise ReconcileError(
            f"Binance holds {decimal_text(held[base])} {base}; the journal explains "
            f"{decimal_text(expected)} ({start[base]} at the session's start, "
            f"{'+' if position >= 0 else ''}{decimal_text(position)} from its {len(fills)} "
            f"fills). Something else traded or moved {base} on this account; settle it, or "
            f"start a new --state.")
    still_open = [cid for cid, state in journal.orders().items() if not state.final]
    return Reconciliation(position, held, resolved, still_open)


def _check_executions(client, journal, tracker, symbol, start_ms):
    """Every execution on `symbol` since `start_ms` must belong to a journaled order."""
    by_order_id = {s.order_id: s for s in journal.orders().values() if s.order_id is not None}
    trades = client.my_trades(symbol, start_ms=start_ms)
    while trades:
        for trade in trades:
            state = by_order_id.get(int(trade["orderId"]))
            if state is None:
                raise ReconcileError(
                    f"Binance has a {symbol} execution (trade {trade['id']}, order "
                    f"{trade['orderId']}, {'buy' if trade['isBuyer'] else 'sell'} "
                    f"{trade['qty']}) of an order this session's journal does not know; the "
                    f"account traded outside this session. Settle it, or start a new --state.")
            tracker.record_trade(trade, state.client_order_id)
        if len(trades) < 1000:
            break
        trades = client.my_trades(symbol, from_id=int(trades[-1]["id"]) + 1)
