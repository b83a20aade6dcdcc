"""A kline stream over a list, in-process: `ClosedKlines`' interface without a network.

For tests of what lies above the stream (the feed, the journal, replay, the broker), where
the stream's own behaviour is not the subject; tests of parity across stream faults use the
real `ClosedKlines` against the fake Binance (`fake_binance.py`).
"""

import queue

import numpy as np


def kline_rows(frame, interval_ms):
    """A kline frame as stream rows (`ROW_FIELDS` order, times in ms)."""
    opens = frame.index.values.astype("datetime64[ms]").astype(np.int64).tolist()
    return [(open_ms, bar.open, bar.high, bar.low, bar.close, bar.volume,
             open_ms + interval_ms - 1, bar.quote_volume, int(bar.trades),
             bar.taker_buy_base_volume, bar.taker_buy_quote_volume)
            for open_ms, bar in zip(opens, frame.itertuples(index=False))]


class ListedKlines:
    """Hands out `rows` opening after `after_ms`, in order, then nothing.

    Args:
        rows: kline rows in `ROW_FIELDS` order.
        after_ms: bars opening at or before it are not handed out.
        repeat: hand every bar out twice (a stream that repeats closed bars).

    Attributes:
        status: always `"live"`.
        started, closed: whether `start()` / `close()` were called.
    """

    def __init__(self, rows, after_ms, repeat=False):
        self.status = "live"
        self.started = self.closed = False
        self._queue = queue.Queue()
        for row in rows:
            if row[0] > after_ms:
                for _ in range(2 if repeat else 1):
                    self._queue.put((row[0], row))

    @classmethod
    def factory(cls, rows, made=None, **options):
        """A `stream_factory` for `BinanceStore`; each stream made is appended to `made`."""
        def make(symbol, interval, *, after_ms, base_url=None, stream_url=None):
            stream = cls(rows, after_ms, **options)
            if made is not None:
                made.append(stream)
            return stream

        return make

    def start(self):
        self.started = True

    def get(self, timeout=None):
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self):
        self.closed = True
