"""The exchange side of a `--testnet` or `--live` session, as one object the session drives.

Example:
    >>> orders = LiveOrders(SignedClient(load_api_key(), TESTNET_BASE_URL),
    ...                     SqliteOrderJournal(state / "orders.sqlite"), "my-session",
    ...                     "BTCUSDT", ws_api_url=TESTNET_WS_API_URL)  # doctest: +SKIP
    >>> orders.start()  # doctest: +SKIP
    >>> orders.submit(bar_ms, "BUY", 0.001, price=close)  # doctest: +SKIP
"""

import logging
from decimal import Decimal

from ..binance.user_stream import UserDataStream
from .limits import LimitGuard
from .reconcile import reconcile
from .sender import OrderSender
from .tracker import OrderTracker, net_change

__all__ = ["LiveOrders"]

logger = logging.getLogger(__name__)


class LiveOrders:
    """Signed orders for one session and symbol: sent once, tracked, reconciled, limited.

    Args:
        client: a `SignedClient`.
        journal: a `SqliteOrderJournal`, or a session's journal with the same methods.
        session_id: names the session in its client order ids.
        symbol: e.g. `"BTCUSDT"`.
        ws_api_url: WebSocket API root for the user data stream. Defaults to `None`: polling.
        limits: `RiskLimits`. Defaults to `None`.
        kill_switch: a `KillSwitch`. Defaults to `None`.
        on_fill: called with each new `Fill` once journaled. Defaults to `None`.
        **sender_options: `OrderSender`'s `settle_s`, `backoff`, `resolve_budget_s`, `sleep`.
    """

    def __init__(self, client, journal, session_id, symbol, *, ws_api_url=None, limits=None,
                 kill_switch=None, on_fill=None, **sender_options):
        self.client = client
        self.journal = journal
        self.session_id = session_id
        self.tracker = OrderTracker(client, journal, symbol, on_fill=on_fill)
        self.limits = limits
        self.kill_switch = kill_switch
        self.ws_api_url = ws_api_url
        self.stream = None
        self.sender = None
        self._sender_options = sender_options
        self._polled_connections = None

    def start(self):
        """Reconcile with Binance (`ReconcileError` on anything unexplained), then follow the
        user data stream; returns the `Reconciliation`."""
        rules = self.client.symbol_rules(self.tracker.symbol)
        guard = LimitGuard(self.limits, self.journal) if self.limits is not None else None
        self.sender = OrderSender(self.client, self.journal, self.tracker, rules,
                                  self.session_id, guard=guard, **self._sender_options)
        found = reconcile(self.sender)
        if self.ws_api_url is not None:
            self.stream = UserDataStream(self.ws_api_url, self.client.api_key,
                                         self.tracker.on_event, self.client.server_ms,
                                         recv_window_ms=self.client.recv_window_ms).start()
        return found

    def submit(self, bar_ms, side, quantity, price, *, equity=None, purpose=""):
        """Send one decision's market order (see `OrderSender.submit`); returns its state."""
        return self.sender.submit(bar_ms, side, quantity, price, equity=equity,
                                  purpose=purpose)

    def position(self):
        """The base asset this session holds: its journaled fills, commissions included."""
        return net_change(self.journal.fills(), self.sender.rules.base_asset, self.sender.rules)

    def step(self):
        """Poll while the stream is down, and once after each (re)connection; re-raise what
        journaling a stream event raised; returns whether the kill switch has tripped."""
        stream = self.stream
        if stream is not None and stream.failure is not None:
            raise stream.failure
        if stream is None or not stream.up or stream.connections != self._polled_connections:
            connections = stream.connections if stream is not None else None
            self.tracker.poll()
            self._polled_connections = connections
        return self.kill_switch is not None and self.kill_switch.tripped

    def kill(self, bar_ms, price, *, flatten=False):
        """Cancel this session's open orders and, if `flatten`, sell what it holds (an order of
        bar `bar_ms` near `price`, past the limits); returns that order's state or `None`. The
        session stops after it."""
        for cid, state in self.journal.orders().items():
            if not state.final:
                answer = self.client.cancel_order(self.tracker.symbol, cid)
                if answer is not None:
                    self.tracker.apply_order(answer)
        self.tracker.poll()
        position = self.position()
        logger.warning("kill switch: open orders cancelled; position %s", position)
        if not flatten or self.sender.rules.market_quantity(position) <= Decimal(0):
            return None
        return self.sender.submit(bar_ms, "SELL", position, price, purpose="k")

    def close(self):
        """Stop following the user data stream and close the client's connections."""
        if self.stream is not None:
            self.stream.stop()
        self.client.close()
