"""The journal of a trading session: one SQLite file that a restarted session replays.

Every bar the strategy sees and everything the session decides from it (forecast, order
intent, order, fill, closed trade, equity point) is one row, committed before it is acted on.
A restarted session feeds the journaled bars through the same strategy again; each record it
makes then already exists and is checked instead of written (`record`), so a replay that
decides anything differently stops with `JournalMismatch` instead of trading on, and nothing
is written twice. The session's identity (symbol, interval, strategy, params, broker) is
stored once; a session with another identity is refused (`SessionMismatch`).

A session holds its journal from `open` to `close` (an exclusive `flock` the kernel drops
when the process dies): a second process on the same directory is refused at once.
"""

import json
import os
import sqlite3
from contextlib import contextmanager
from pathlib import Path

from ..binance._frames import ROW_FIELDS
from ..binance.store import immediate_transaction
from ..errors import DataError, LstmBtError

__all__ = ["Journal", "JournalMismatch", "SessionMismatch", "JOURNAL_FILE"]

JOURNAL_FILE = "journal.sqlite"
_LOCK_FILE = ".journal.lock"

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS session (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS bars (
    {', '.join(f'{name} {"INTEGER PRIMARY KEY" if name == "open_time" else "REAL NOT NULL"}'
               for name in ROW_FIELDS)},
    live INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    payload TEXT NOT NULL,
    UNIQUE (kind, key)
);
"""


class SessionMismatch(LstmBtError):
    """The state directory holds another session (symbol, strategy or params differ)."""


class JournalMismatch(LstmBtError):
    """A replayed session decided something other than what its journal holds."""


class Journal:
    """A session's SQLite journal in a state directory.

    Use `Journal.open(state_dir, identity)`; `close()` (or a `with` block) gives it up.

    Attributes:
        path: the SQLite file.
        identity: the session's identity, as stored.
        created: whether `open` started a new session (False: it resumes one).
    """

    def __init__(self, path, connection, lock_fd, identity, created):
        self.path = path
        self.identity = identity
        self.created = created
        self._connection = connection
        self._lock_fd = lock_fd

    @classmethod
    def open(cls, state_dir, identity):
        """Open the journal in `state_dir` (created when missing) for the session `identity`.

        Args:
            state_dir: the session's directory.
            identity: a JSON-ready dict naming the session (symbol, interval, strategy,
                params, broker); a journal holding another one is refused, unless that
                session never began (no bar journaled).

        Raises:
            SessionMismatch: the journal belongs to another session, or another process has
                this directory open.
            DataError: the journal is damaged or cannot be written.
        """
        state_dir = Path(state_dir)
        state_dir.mkdir(parents=True, exist_ok=True)
        lock_fd = _lock(state_dir)
        path = state_dir / JOURNAL_FILE
        try:
            with _unusable(path):
                connection = sqlite3.connect(path, isolation_level=None, timeout=30)
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA synchronous=FULL")
                connection.executescript(_SCHEMA)
                stored = connection.execute(
                    "SELECT value FROM session WHERE name = 'identity'").fetchone()
                text = _dumps(identity)
                if stored is not None and stored[0] != text and not _begun(connection):
                    stored = None  # a session that never had a bar: take the new identity
                if stored is None:
                    with immediate_transaction(connection):
                        connection.execute("INSERT OR REPLACE INTO session "
                                           "VALUES ('identity', ?)", (text,))
            if stored is not None and stored[0] != text:
                connection.close()
                raise SessionMismatch(
                    f"`state` {state_dir} holds another session "
                    f"({_first_difference(json.loads(stored[0]), json.loads(text))}); resume it "
                    f"with the same symbol, strategy and params, or choose a new `state`.")
        except BaseException:
            os.close(lock_fd)
            raise
        return cls(path, connection, lock_fd, json.loads(text), created=stored is None)

    def close(self):
        """Close the database and give the directory up."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
            os.close(self._lock_fd)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def get(self, name, default=None):
        """A session value stored with `put` (JSON), or `default`."""
        row = self._connection.execute("SELECT value FROM session WHERE name = ?",
                                       (name,)).fetchone()
        return default if row is None else json.loads(row[0])

    def put(self, name, value):
        """Store a session value once (JSON); a different later value is refused.

        Raises:
            JournalMismatch: `name` already holds another value.
        """
        self._keep("SELECT value FROM session WHERE name = ?", (name,),
                   "INSERT INTO session VALUES (?, ?)", (name, _dumps(value)), f"`{name}`")

    def add_bars(self, rows, live):
        """Journal bars (rows in `ROW_FIELDS` order), all in one transaction; bars already
        journaled are left as they are.

        Args:
            rows: kline rows, times in ms.
            live: whether they are the session's live bars (else warm-up history).
        """
        with _unusable(self.path), immediate_transaction(self._connection) as connection:
            connection.executemany(
                f"INSERT OR IGNORE INTO bars VALUES ({', '.join('?' * (len(ROW_FIELDS) + 1))})",
                [(*row, int(live)) for row in rows])

    def bars(self):
        """Every journaled bar as `(row, live)`, in time order."""
        cursor = self._connection.execute(
            f"SELECT {', '.join(ROW_FIELDS)}, live FROM bars ORDER BY open_time")
        return [(_row(values[:-1]), bool(values[-1])) for values in cursor]

    def live_bars(self):
        """How many live bars are journaled."""
        return self._connection.execute("SELECT COUNT(*) FROM bars WHERE live").fetchone()[0]

    def record(self, kind, key, payload):
        """Journal one event before it is acted on, or check it against the journal.

        Args:
            kind: `"forecast"`, `"intent"`, `"order"`, `"fill"`, `"trade"`, `"equity"`, ...
            key: what identifies it within its kind (e.g. the bar's open time in ms).
            payload: a JSON-ready dict.

        Returns:
            True when it was written now, False when the journal already held it.

        Raises:
            JournalMismatch: the journal holds this event with another payload: the session
                replayed differently from how it ran.
        """
        return self._keep("SELECT payload FROM events WHERE kind = ? AND key = ?",
                          (kind, str(key)), "INSERT INTO events (kind, key, payload) "
                          "VALUES (?, ?, ?)", (kind, str(key), _dumps(payload)),
                          f"{kind} {key}")

    def events(self, kind):
        """The `(key, payload)` of every event of `kind`, in the order they were written."""
        cursor = self._connection.execute(
            "SELECT key, payload FROM events WHERE kind = ? ORDER BY seq", (kind,))
        return [(key, json.loads(payload)) for key, payload in cursor]

    def _keep(self, select, key, insert, values, what):
        held = self._connection.execute(select, key).fetchone()
        new = values[-1]
        if held is None:
            with _unusable(self.path), immediate_transaction(self._connection) as connection:
                connection.execute(insert, values)
            return True
        if held[0] != new:
            raise JournalMismatch(
                f"the session in {self.path.parent} replays differently from its journal at "
                f"{what}: journaled {held[0]}, now {new}. The strategy code, lstm-bt or its "
                f"libraries changed since it ran; start a new `state` to trade with them.")
        return False


def _begun(connection):
    """Whether the journal holds a bar: a session whose start failed (no history yet) has
    not begun, and a corrected command may take its directory."""
    return connection.execute("SELECT 1 FROM bars LIMIT 1").fetchone() is not None


def _row(values):
    """A journaled bar as a kline row: times and trade count as ints."""
    return tuple(int(value) if name in ("open_time", "close_time", "trades") else float(value)
                 for name, value in zip(ROW_FIELDS, values))


def _dumps(value):
    # Sorted keys and repr floats: the same decision is the same text, bit for bit.
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=True)


@contextmanager
def _unusable(path):
    """SQLite's errors on the journal (a full disk, a damaged file) as a `DataError`."""
    try:
        yield
    except sqlite3.DatabaseError as error:
        raise DataError(
            f"the journal {path} cannot be used ({error}): free disk space if it is full; a "
            f"damaged journal cannot resume its session, so choose a new `state`.") from None


def _lock(state_dir):
    import fcntl

    fd = os.open(state_dir / _LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
        os.close(fd)
        raise SessionMismatch(
            f"`state` {state_dir} is in use by another lstm-bt session (pid "
            f"{holder or 'unknown'}); stop it first, or choose another `state`.") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def _first_difference(held, new):
    """The first field that differs, e.g. `params.seq_len: 60 there, 30 now`."""
    for name in sorted({*held, *new}):
        there, now = held.get(name), new.get(name)
        if isinstance(there, dict) and isinstance(now, dict):
            for inner in sorted({*there, *now}):
                if there.get(inner) != now.get(inner):
                    return f"{name}.{inner}: {there.get(inner)!r} there, {now.get(inner)!r} now"
        elif there != now:
            return f"{name}: {there!r} there, {now!r} now"
    return "its identity differs"
