"""The trading params of `LSTMStrategy`: declared once, checked, and the signal rule.

Trading params only turn forecasts into orders; changing them never retrains a model (the
forecast cache and sweeps replay the walk-forward's forecasts instead).
"""

import math

from ..errors import InvalidParameter, check_int
from .sizing import check_sizing

__all__ = ["TRADING_DEFAULTS", "check_trading_params", "resolve_threshold",
           "check_exit_threshold", "broker_costs", "next_signal"]

TRADING_DEFAULTS = {
    "threshold": "cost",
    "exit_threshold": 0.0,
    "allow_short": False,
    "sizing": "all_in",
    "fraction": 0.95,
    "stake": 1.0,
    "scale": 100.0,
    "smooth": 1,
}

# (name, low, high, low inclusive): finite numbers only, so `inf` is refused too.
_NUMBER_BOUNDS = (("threshold", 0.0, None, True), ("exit_threshold", None, None, True),
                  ("fraction", 0.0, 1.0, False),
                  ("stake", 0.0, None, False), ("scale", 0.0, None, False))


def check_trading_params(p):
    """Raise `InvalidParameter` for the first trading param in the dict `p` that cannot work;
    `smooth` becomes a Python int in `p`."""
    check_sizing(p["sizing"])
    p["smooth"] = check_int("smooth", p["smooth"], low=1,
                            meaning="the number of forecasts to average")
    for name, low, high, inclusive_low in _NUMBER_BOUNDS:
        value = p[name]
        if name == "threshold" and value == "cost":
            continue
        if not _in_range(value, low, high, inclusive_low):
            bounds = (f" in ({low}, {high}]" if high else "" if low is None else
                      f" {'>=' if inclusive_low else '>'} {low}")
            also = " or 'cost' (2 x (commission + slippage))" if name == "threshold" else ""
            raise InvalidParameter(
                f"Received an invalid value for `{name}`, expected a "
                f"{'number' if bounds else 'finite number'}{bounds}"
                f"{also}, got {value!r}."
            )
    if p["threshold"] != "cost":
        check_exit_threshold(p["exit_threshold"], p["threshold"])


def check_exit_threshold(exit_threshold, threshold):
    """Raise `InvalidParameter` when `exit_threshold` is above the entry `threshold` (a
    forecast would then ask to enter and to leave at once)."""
    if exit_threshold > threshold:
        raise InvalidParameter(
            f"Received `exit_threshold={exit_threshold!r}` above the entry `threshold` "
            f"({threshold!r}); pass an exit_threshold <= threshold, e.g. 0.0."
        )


def resolve_threshold(threshold, commission, slippage):
    """The threshold as a fraction of the close: `"cost"` is a round trip's cost,
    2 x (commission + slippage), so a predicted move must at least pay for its trades.
    `commission` or `slippage` None: the broker's is not a fraction (refused for `"cost"`).

    Example:
        >>> resolve_threshold("cost", 0.001, 0.0)
        0.002
    """
    if threshold != "cost":
        return float(threshold)
    for name, value in (("commission", commission), ("slippage", slippage)):
        if value is None:
            raise InvalidParameter(
                f"Received `threshold='cost'` with a broker {name} that is not a fraction of "
                f"the trade's value (a fixed fee or price offset); pass a number for "
                f"`threshold`, e.g. 0.002."
            )
    return 2.0 * (float(commission) + float(slippage))


def broker_costs(broker, data):
    """`(commission, slippage)` of a backtrader broker for `data`, as fractions of a trade's
    value, each None where it is not one (a fixed fee, a fixed price offset): what
    `resolve_threshold` takes."""
    import backtrader as bt

    comm = broker.getcommissioninfo(data)
    commission = comm.p.commission if comm._commtype == bt.CommInfoBase.COMM_PERC else None
    settings = broker.p
    # backtrader applies slip_perc when set, else slip_fixed (a price offset).
    slippage = (None if getattr(settings, "slip_fixed", 0.0) and not settings.slip_perc
                else getattr(settings, "slip_perc", 0.0))
    return commission, slippage


def next_signal(move, threshold, exit_threshold, allow_short, held):
    """The position wanted after a predicted `move`: 1 long, -1 short, 0 flat.

    A move above `threshold` enters (or keeps) a long, one below `-threshold` a short when
    `allow_short`. A long is left when the move falls below `exit_threshold`, a short when it
    rises above `-exit_threshold`; otherwise the signal `held` is kept.

    Example:
        >>> next_signal(0.003, 0.002, 0.0, False, 0), next_signal(-0.0001, 0.002, 0.0, False, 1)
        (1, 0)
    """
    if move > threshold:
        return 1
    if allow_short and move < -threshold:
        return -1
    if (held > 0 and move < exit_threshold) or (held < 0 and move > -exit_threshold):
        return 0
    return held


def _in_range(value, low, high, inclusive_low):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return False
    above = low is None or (value >= low if inclusive_low else value > low)
    return above and (high is None or value <= high)
