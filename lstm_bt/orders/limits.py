"""Risk limits checked before each order (each off unless given), and the kill switch.

A refused order is journaled with the limit's name and not sent. The daily loss counts from the
first equity seen each UTC day (kept in the journal); once reached, only selling is allowed.
"""

import signal
import threading
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from ..binance.filters import as_decimal, decimal_text

__all__ = ["RiskLimits", "LimitGuard", "KillSwitch"]

_DAY_MS = 86_400_000


@dataclass(frozen=True)
class RiskLimits:
    """Bounds on what a session may send; `None` turns a bound off.

    Attributes:
        max_notional: largest quantity x price of one order, in the quote asset.
        max_daily_loss: largest fall of equity within one UTC day, in the quote asset.
        max_orders_per_minute: most orders sent within any 60 s.
    """

    max_notional: Decimal | None = None
    max_daily_loss: Decimal | None = None
    max_orders_per_minute: int | None = None


class LimitGuard:
    """Checks each order against `RiskLimits`; the journal remembers orders sent and each
    day's first equity."""

    def __init__(self, limits, journal):
        self.limits = limits
        self.journal = journal

    def refusal(self, side, quantity, price, equity, now_ms):
        """Why the order may not be sent, or `None`; `equity` (quote asset, `None` when
        unknown) is for the daily loss, `now_ms` Binance's time."""
        limits = self.limits
        notional = as_decimal(quantity) * as_decimal(price)
        if limits.max_notional is not None and notional > as_decimal(limits.max_notional):
            return (f"limit: notional {decimal_text(notional)} above --max-notional "
                    f"{decimal_text(limits.max_notional)}")
        if limits.max_orders_per_minute is not None:
            sent = sum(1 for i in self.journal.intents()
                       if i.sent_ms is not None and i.sent_ms > now_ms - 60_000)
            if sent >= limits.max_orders_per_minute:
                return (f"limit: {sent} orders sent in the last minute, "
                        f"--max-orders-per-minute {limits.max_orders_per_minute}")
        if limits.max_daily_loss is not None and equity is not None:
            name = f"day_start_equity:{now_ms // _DAY_MS}"
            start = self.journal.value(name)
            if start is None:
                start = decimal_text(equity)
                self.journal.set_value(name, start)
            loss = as_decimal(start) - as_decimal(equity)
            if side == "BUY" and loss >= as_decimal(limits.max_daily_loss):
                return (f"limit: {decimal_text(loss)} lost today, --max-daily-loss "
                        f"{decimal_text(limits.max_daily_loss)}; only selling until 00:00 UTC")
        return None


class KillSwitch:
    """Trips when `path` exists or the process receives `signum` (SIGUSR1 by default;
    installed from the main thread only); the session then calls `LiveOrders.kill`."""

    def __init__(self, path=None, signum=getattr(signal, "SIGUSR1", None)):
        self.path = Path(path) if path is not None else None
        self._signalled = threading.Event()
        if signum is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signum, lambda *_: self._signalled.set())

    @property
    def tripped(self):
        """Whether the switch has been tripped."""
        return self._signalled.is_set() or (self.path is not None and self.path.exists())

    def trip(self):
        """Trip the switch from code."""
        self._signalled.set()
