"""One client order id per decision, the same every time the decision is taken again.

`lbt-<session tag>-<bar open ms>-<side><purpose>`: at most 31 characters of `[a-zA-Z0-9-_]`, within
Binance's 36. The session tag (a hash of the session's id) tells this session's orders from any
other on the account, and lets a restart find its own orders among Binance's.

Example:
    >>> client_order_id("my-session", 1704067200000, "BUY")
    'lbt-01165fb373-1704067200000-B'
"""

import hashlib
import re

from ..errors import InvalidParameter

__all__ = ["client_order_id", "session_prefix", "CLIENT_ORDER_ID_PATTERN"]

CLIENT_ORDER_ID_PATTERN = re.compile(r"^[a-zA-Z0-9_-]{1,36}$")
_SIDES = {"BUY": "B", "SELL": "S"}


def session_prefix(session_id):
    """The start every client order id of `session_id` has, e.g. `"lbt-01165fb373-"`."""
    return f"lbt-{hashlib.sha256(str(session_id).encode()).hexdigest()[:10]}-"


def client_order_id(session_id, bar_ms, side, purpose=""):
    """The `newClientOrderId` of the decision `(session_id, bar_ms, side, purpose)`.

    Args:
        session_id: what names the session (e.g. its state directory's id).
        bar_ms: open time (ms) of the bar the decision was taken on.
        side: `"BUY"` or `"SELL"`.
        purpose: one letter telling apart two decisions of one bar and side, e.g. `"k"` for
            the kill switch's flattening order. Defaults to `""`.
    """
    if side not in _SIDES:
        raise InvalidParameter(f"Received an invalid value for `side`, expected 'BUY' or "
                               f"'SELL', got {side!r}.")
    cid = f"{session_prefix(session_id)}{int(bar_ms)}-{_SIDES[side]}{purpose}"
    if not CLIENT_ORDER_ID_PATTERN.match(cid):
        raise InvalidParameter(f"Received an invalid value for `purpose`: {purpose!r} makes "
                               f"{cid!r}, not a Binance client order id; use one letter.")
    return cid
