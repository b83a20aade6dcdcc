"""Signed orders on Binance: sent once, journaled first, tracked, reconciled, limited.

`LiveOrders` is what a `--testnet`/`--live` session drives; the pieces under it are usable on
their own: `OrderSender` (each decision's order at most once), `OrderTracker` (answers, stream
events and polls into the journal), `reconcile` (the start-up check), `LimitGuard`/`KillSwitch`,
and `SqliteOrderJournal`.
"""

from .client_ids import client_order_id, session_prefix
from .journal import Fill, Intent, OrderState, SqliteOrderJournal
from .limits import KillSwitch, LimitGuard, RiskLimits
from .live_orders import LiveOrders
from .reconcile import Reconciliation, reconcile
from .sender import OrderSender
from .tracker import OrderTracker, net_change

__all__ = [
    "LiveOrders",
    "OrderSender",
    "OrderTracker",
    "reconcile",
    "Reconciliation",
    "RiskLimits",
    "LimitGuard",
    "KillSwitch",
    "SqliteOrderJournal",
    "Intent",
    "OrderState",
    "Fill",
    "client_order_id",
    "session_prefix",
    "net_change",
]
