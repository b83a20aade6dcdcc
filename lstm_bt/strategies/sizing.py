"""How big a position a signal asks for: pure functions, no backtrader.

Sizes are floats in units of the base asset (0.2 BTC), never rounded to whole units as
backtrader's percent sizers and `order_target_percent` do.
"""


from ..errors import InvalidParameter, did_you_mean

__all__ = ["SIZINGS", "check_sizing", "target_size"]

SIZINGS = ("all_in", "proportional", "fixed")


def check_sizing(name):
    """Raise `InvalidParameter` for an unknown sizing, with a "Did you mean ...?"."""
    if name not in SIZINGS:
        hint = did_you_mean(name, SIZINGS, cutoff=0.5)
        raise InvalidParameter(
            f"Received an invalid value for `sizing`, expected one of "
            f"{', '.join(map(repr, SIZINGS))}, got {name!r}.{hint}"
        )


def target_size(sizing, signal, move, equity, price, *, fraction, stake, scale):
    """The signed position, in base-asset units, that a signal asks for.

    Args:
        sizing: `"all_in"`: `fraction` of equity; `"proportional"`: `fraction` of equity
            times `min(1, scale * |move|)`, a bigger bet on a bigger predicted move;
            `"fixed"`: `stake` units.
        signal: 1 long, -1 short, 0 flat.
        move: predicted relative move, `predicted_close / close - 1`.
        equity: account value in quote currency.
        price: the price the size is computed at (the current close).
        fraction: share of equity for `all_in` and the cap of `proportional`.
        stake: units for `fixed`.
        scale: `proportional` exposure per unit of predicted move.

    Returns:
        A float; 0.0 when flat.

    Example:
        >>> target_size("all_in", 1, 0.01, 10_000.0, 50_000.0, fraction=1.0, stake=1.0,
        ...             scale=100.0)
        0.2
    """
    if signal == 0:
        return 0.0
    if sizing == "fixed":
        units = stake
    elif sizing == "all_in":
        units = fraction * equity / price
    else:
        units = fraction * min(1.0, scale * abs(move)) * equity / price
    return signal * units
