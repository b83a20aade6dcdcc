"""The one status line of a trading session: last bar, position, equity, next retrain, stream.

On a terminal the line is rewritten in place; elsewhere (a log file, a pipe) each change is
one plain line.
"""

import sys
import threading

__all__ = ["StatusLine", "format_status"]


def format_status(symbol, interval, bar=None, stream="starting"):
    """The status line's text.

    Args:
        symbol: the session's symbol.
        interval: its interval name.
        bar: the `SessionRecorder`'s report of the last bar (`datetime`, `position`,
            `equity`, `next_retrain`), or None before the first one. Defaults to `None`.
        stream: the stream's state (`replaying`, `backfilling`, `live`, `reconnecting`).
            Defaults to `"starting"`.

    Example:
        >>> from datetime import datetime
        >>> format_status("BTCUSDT", "1h", {"datetime": datetime(2024, 5, 1, 13),
        ...     "position": 0.25, "equity": 10234.5, "next_retrain": None}, "live")
        'BTCUSDT 1h | last bar 2024-05-01 13:00 | position 0.25 | equity 10,234.50 | next retrain - | stream live'
    """
    if bar is None:
        return f"{symbol} {interval} | waiting for the first live bar | stream {stream}"
    retrain = bar["next_retrain"]
    if retrain is None:
        when = "-"
    else:
        bars, moment = retrain
        when = f"in {bars} bar{'s' if bars != 1 else ''} ({_time(moment)})"
    return (f"{symbol} {interval} | last bar {_time(bar['datetime'])} | position "
            f"{bar['position']:.8g} | equity {bar['equity']:,.2f} | next retrain {when} | "
            f"stream {stream}")


class StatusLine:
    """Shows `format_status` on `out`, in place on a terminal.

    Args:
        symbol: the session's symbol.
        interval: its interval name.
        out: where to write. Defaults to `None` (`sys.stdout`).
    """

    def __init__(self, symbol, interval, out=None):
        self.symbol, self.interval = symbol, interval
        self.out = out or sys.stdout
        self.in_place = self.out.isatty()
        self._bar, self._stream, self._shown = None, "starting", None
        # The stream reports from cerebro's thread, a signal may close from another moment.
        self._lock = threading.Lock()

    def bar(self, report):
        """A new bar was dealt with (`SessionRecorder`'s `on_bar`)."""
        self._bar = report
        self._show()

    def stream(self, data):
        """The feed's stream state may have changed (`BinanceStore`'s `on_stream`)."""
        self._stream = data.stream_status
        self._show()

    def close(self):
        """End the line (a newline after an in-place line)."""
        with self._lock:
            if self.in_place and self._shown is not None:
                self.out.write("\n")
                self.out.flush()
            self._shown = None

    def _show(self):
        text = format_status(self.symbol, self.interval, self._bar, self._stream)
        with self._lock:
            if text == self._shown:
                return
            self._shown = text
            self.out.write(f"\r\x1b[2K{text}" if self.in_place else f"{text}\n")
            self.out.flush()


def _time(moment):
    return f"{moment:%Y-%m-%d %H:%M:%S}" if moment.second else f"{moment:%Y-%m-%d %H:%M}"
