"""What was decided, sent and filled, in SQLite, written before it is acted on.

An intent without an order state was perhaps sent: a restart asks Binance about it first. Any
object with the same methods can stand in for `SqliteOrderJournal` (a session's own journal).
"""

import json
import sqlite3
import threading
from dataclasses import dataclass, fields

__all__ = ["Intent", "OrderState", "Fill", "SqliteOrderJournal", "FINAL_STATUSES",
           "NOT_PLACED", "REFUSED"]

NOT_PLACED = "NOT_PLACED"
REFUSED = "REFUSED"
# Binance's final order statuses, and ours: never placed (sure), refused before sending.
FINAL_STATUSES = frozenset({"FILLED", "CANCELED", "REJECTED", "EXPIRED", "EXPIRED_IN_MATCH",
                            NOT_PLACED, REFUSED})


@dataclass(frozen=True)
class Intent:
    """An order about to be sent; `sent_ms` is the timestamp it was last signed with (`None`:
    never sent), `quantity` Binance's decimal text."""

    client_order_id: str
    symbol: str
    side: str
    type: str
    quantity: str
    bar_ms: int
    sent_ms: int | None = None


@dataclass(frozen=True)
class OrderState:
    """An order as Binance last described it, or why it never reached Binance.

    `status` is Binance's, or `NOT_PLACED` (Binance has none and can no longer accept it), or
    `REFUSED` (by Binance, a filter or a limit; `reason` says which).
    """

    client_order_id: str
    status: str
    executed_qty: str = "0"
    order_id: int | None = None
    reason: str = ""

    @property
    def final(self):
        return self.status in FINAL_STATUSES


@dataclass(frozen=True)
class Fill:
    """One execution: its own quantity and price, and the fee in the asset Binance charged."""

    trade_id: int
    client_order_id: str
    symbol: str
    side: str
    qty: str
    price: str
    commission: str
    commission_asset: str
    time_ms: int


_SCHEMA = """
CREATE TABLE IF NOT EXISTS order_intents (
    client_order_id TEXT PRIMARY KEY, symbol TEXT, side TEXT, type TEXT, quantity TEXT,
    bar_ms INTEGER, sent_ms INTEGER, seq INTEGER);
CREATE TABLE IF NOT EXISTS order_states (
    client_order_id TEXT PRIMARY KEY, status TEXT, executed_qty TEXT, order_id INTEGER,
    reason TEXT);
CREATE TABLE IF NOT EXISTS order_fills (
    symbol TEXT, trade_id INTEGER, client_order_id TEXT, side TEXT, qty TEXT, price TEXT,
    commission TEXT, commission_asset TEXT, time_ms INTEGER, PRIMARY KEY (symbol, trade_id));
CREATE TABLE IF NOT EXISTS order_values (name TEXT PRIMARY KEY, value TEXT);
"""


class SqliteOrderJournal:
    """The order journal in the SQLite file `path`, shared between threads; each write is on
    disk (`synchronous=FULL`) before the call returns. Its tables are prefixed `order_`, so
    the file can be a session's own journal too."""

    def __init__(self, path):
        self.path = str(path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self):
        with self._lock:
            self._db.close()

    def _write(self, sql, values):
        with self._lock:
            return self._db.execute(sql, values).rowcount

    def _rows(self, sql, values=()):
        with self._lock:
            return self._db.execute(sql, values).fetchall()

    def record_intent(self, intent):
        """Journal an intent; recording it again updates only its `sent_ms`."""
        self._write(
            "INSERT INTO order_intents VALUES (?, ?, ?, ?, ?, ?, ?, "
            "(SELECT COUNT(*) FROM order_intents)) ON CONFLICT(client_order_id) "
            "DO UPDATE SET sent_ms = excluded.sent_ms",
            (intent.client_order_id, intent.symbol, intent.side, intent.type, intent.quantity,
             intent.bar_ms, intent.sent_ms))

    def record_order(self, state):
        """Journal an order's state; an older state never replaces a newer one (a final
        status, or more executed, wins)."""
        self._write(
            "INSERT INTO order_states VALUES (?, ?, ?, ?, ?) ON CONFLICT(client_order_id) "
            "DO UPDATE SET status = excluded.status, executed_qty = excluded.executed_qty, "
            "order_id = COALESCE(excluded.order_id, order_id), reason = excluded.reason "
            "WHERE status NOT IN ({}) AND CAST(excluded.executed_qty AS REAL) >= "
            "CAST(executed_qty AS REAL)".format(",".join("?" * len(FINAL_STATUSES))),
            (state.client_order_id, state.status, state.executed_qty, state.order_id,
             state.reason, *sorted(FINAL_STATUSES)))

    def record_fill(self, fill):
        """Journal an execution; returns `False` when its trade id was already there."""
        return self._write("INSERT OR IGNORE INTO order_fills VALUES (?,?,?,?,?,?,?,?,?)",
                           (fill.symbol, fill.trade_id, fill.client_order_id, fill.side,
                            fill.qty, fill.price, fill.commission, fill.commission_asset,
                            fill.time_ms)) == 1

    def intents(self):
        """Every intent, in the order they were journaled."""
        return [Intent(*row) for row in self._rows(
            "SELECT client_order_id, symbol, side, type, quantity, bar_ms, sent_ms "
            "FROM order_intents ORDER BY seq")]

    def intents_unresolved(self):
        """Intents with no order state: perhaps sent, outcome unknown."""
        return [Intent(*row) for row in self._rows(
            "SELECT i.client_order_id, symbol, side, type, quantity, bar_ms, sent_ms "
            "FROM order_intents i LEFT JOIN order_states s USING (client_order_id) "
            "WHERE s.client_order_id IS NULL ORDER BY seq")]

    def orders(self):
        """Every order state, by client id."""
        names = [f.name for f in fields(OrderState)]
        return {row[0]: OrderState(*row) for row in self._rows(
            f"SELECT {', '.join(names)} FROM order_states")}

    def fills(self):
        """Every execution, oldest first."""
        names = [f.name for f in fields(Fill)]
        return [Fill(*row) for row in self._rows(
            f"SELECT {', '.join(names)} FROM order_fills ORDER BY time_ms, trade_id")]

    def value(self, name):
        """A named value (JSON), or `None`."""
        rows = self._rows("SELECT value FROM order_values WHERE name = ?", (name,))
        return json.loads(rows[0][0]) if rows else None

    def set_value(self, name, value):
        """Set a named value (anything JSON can hold)."""
        self._write("INSERT OR REPLACE INTO order_values VALUES (?, ?)",
                    (name, json.dumps(value)))

