"""The local kline store: one SQLite file under the data directory.

Rows are keyed by `(symbol, interval, open_time)`. Beside them the store keeps the ranges
already asked of Binance, so a re-run asks only for what is missing and an outage is asked
for once. A page and its range are written in one transaction: a killed download resumes.
"""

import logging
import sqlite3
from contextlib import contextmanager

import numpy as np

from ..data.intervals import get_interval
from ._frames import ROW_FIELDS, frame_from_array
from ..settings import resolve_data_dir, validate_symbol

__all__ = ["KlineStore"]

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS klines (
    symbol TEXT NOT NULL,
    interval TEXT NOT NULL,
    open_time INTEGER NOT NULL,
    open REAL NOT NULL,
    high REAL NOT NULL,
    low REAL NOT NULL,
    close REAL NOT NULL,
    volume REAL NOT NULL,
    close_time INTEGER NOT NULL,
    quote_volume REAL NOT NULL,
    trades INTEGER NOT NULL,
    taker_buy_base_volume REAL NOT NULL,
    taker_buy_quote_volume REAL NOT NULL,
    PRIMARY KEY (symbol, interval, open_time)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS fetched_ranges (
    symbol TEXT NOT NULL,
    interval TEXT NOT NULL,
    start_ms INTEGER NOT NULL,
    end_ms INTEGER NOT NULL,
    PRIMARY KEY (symbol, interval, start_ms)
) WITHOUT ROWID;
"""
_INSERT = (f"INSERT OR REPLACE INTO klines (symbol, interval, {', '.join(ROW_FIELDS)}) "
           f"VALUES (?, ?, {', '.join('?' * len(ROW_FIELDS))})")


class KlineStore:
    """Klines and the ranges already fetched, in the SQLite file `path` (created when missing)."""

    FILENAME = "klines.sqlite"

    def __init__(self, path):
        self.path = path
        # Autocommit mode: transactions are explicit (BEGIN IMMEDIATE ... COMMIT) below.
        self._connection = sqlite3.connect(path, timeout=30, isolation_level=None)
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.executescript(_SCHEMA)

    @classmethod
    def in_dir(cls, data_dir=None):
        """The store in `data_dir` (None: `LSTM_BT_DATA_DIR`, else `./feeds`), created if needed."""
        directory = resolve_data_dir(data_dir)
        directory.mkdir(parents=True, exist_ok=True)
        return cls(directory / cls.FILENAME)

    def close(self):
        """Close the database connection."""
        self._connection.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def missing_ranges(self, symbol, interval, start_ms, end_ms):
        """The parts of `[start_ms, end_ms)` not fetched yet, as `(start, end)` ms pairs."""
        key = _key(symbol, interval)
        covered = self._connection.execute(
            "SELECT start_ms, end_ms FROM fetched_ranges WHERE symbol = ? AND interval = ? "
            "AND start_ms < ? AND end_ms > ? ORDER BY start_ms",
            (*key, end_ms, start_ms),
        ).fetchall()
        missing, cursor = [], start_ms
        for range_start, range_end in covered:
            if range_start > cursor:
                missing.append((cursor, range_start))
            cursor = max(cursor, range_end)
        if cursor < end_ms:
            missing.append((cursor, end_ms))
        return missing

    def forget_future(self, symbol, interval, now_ms):
        """Drop bars opening after `now_ms` and forget the fetched ranges reaching past it.

        No honest answer settles such a range, so the next fetch asks for it again. Returns the
        number of ranges forgotten.
        """
        key = _key(symbol, interval)
        future = self._connection.execute(
            "SELECT start_ms FROM fetched_ranges WHERE symbol = ? AND interval = ? AND end_ms > ?",
            (*key, now_ms),
        ).fetchall()
        if future:
            with immediate_transaction(self._connection) as connection:
                connection.executemany(
                    "DELETE FROM fetched_ranges WHERE symbol = ? AND interval = ? AND start_ms = ?",
                    [(*key, start) for (start,) in future])
                connection.execute(
                    "DELETE FROM klines WHERE symbol = ? AND interval = ? AND open_time > ?",
                    (*key, now_ms))
            logger.warning("forgot %d fetched %s %s ranges reaching past now (a wrong answer "
                           "stored earlier); they are fetched again", len(future), *key)
        return len(future)

    def save_page(self, symbol, interval, page):
        """Store a `KlinePage`'s rows and mark its range fetched, in one transaction."""
        key = _key(symbol, interval)
        with immediate_transaction(self._connection) as connection:
            connection.executemany(_INSERT, [(*key, *row) for row in page.rows])
            if page.end_ms > page.start_ms:
                self._mark_fetched(connection, key, page.start_ms, page.end_ms)

    def count(self, symbol, interval, start_ms, end_ms):
        """Number of stored bars with open time in `[start_ms, end_ms)`."""
        (rows,) = self._connection.execute(
            "SELECT COUNT(*) FROM klines WHERE symbol = ? AND interval = ? "
            "AND open_time >= ? AND open_time < ?",
            (*_key(symbol, interval), start_ms, end_ms),
        ).fetchone()
        return rows

    def read_frame(self, symbol, interval, start_ms, end_ms, *, close_time=False):
        """Stored bars opening in `[start_ms, end_ms)` as a kline frame, sorted.

        `close_time=True` adds Binance's `close_time` (ms) column, as `write_kline_csv` wants it.
        """
        rows = self._connection.execute(
            f"SELECT {', '.join(ROW_FIELDS)} FROM klines WHERE symbol = ? AND interval = ? "
            f"AND open_time >= ? AND open_time < ? ORDER BY open_time",
            (*_key(symbol, interval), start_ms, end_ms),
        ).fetchall()
        return frame_from_array(np.array(rows, dtype=np.float64), close_time=close_time)

    @staticmethod
    def _mark_fetched(connection, key, start_ms, end_ms):
        """Add `[start_ms, end_ms)` to the fetched ranges, merged with those it touches."""
        touching = connection.execute(
            "SELECT start_ms, end_ms FROM fetched_ranges WHERE symbol = ? AND interval = ? "
            "AND start_ms <= ? AND end_ms >= ?",
            (*key, end_ms, start_ms),
        ).fetchall()
        for range_start, range_end in touching:
            start_ms, end_ms = min(start_ms, range_start), max(end_ms, range_end)
        connection.executemany(
            "DELETE FROM fetched_ranges WHERE symbol = ? AND interval = ? AND start_ms = ?",
            [(*key, range_start) for range_start, _ in touching],
        )
        connection.execute(
            "INSERT INTO fetched_ranges (symbol, interval, start_ms, end_ms) VALUES (?, ?, ?, ?)",
            (*key, start_ms, end_ms),
        )


def _key(symbol, interval):
    return validate_symbol(symbol), get_interval(interval).name


@contextmanager
def immediate_transaction(connection):
    """`BEGIN IMMEDIATE` (the write lock taken at once, so a second writer waits rather than
    failing half-way), committed at the end or rolled back on any exception, Ctrl-C included."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield connection
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
