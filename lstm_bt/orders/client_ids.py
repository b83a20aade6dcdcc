"""One client order id per decision: `lbt-<session hash>-<bar ms>-<side><purpose>`, <= 36 chars.

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
    """The `newClientOrderId` of a decision: the same decision, the same id.

    Args:
        session_id: names the session.
        bar_ms: open time of the bar the decision was taken on.
        side: `"BUY"` or `"SELL"`.
        purpose: one letter telling two decisions of a bar and side apart (`"k"`: the kill
            switch's sale). Defaults to `""`.
    """
    if side not in _SIDES:
        raise InvalidParameter(f"Received an invalid value for `side`, expected 'BUY' or "
                               f"'SELL', got {side!r}.")
    cid = f"{session_prefix(session_id)}{int(bar_ms)}-{_SIDES[side]}{purpose}"
    if not CLIENT_ORDER_ID_PATTERN.match(cid):
        raise InvalidParameter(f"Received an invalid value for `purpose`: {purpose!r} makes "
                               f"{cid!r}, not a Binance client order id; use one letter.")
    return cid
