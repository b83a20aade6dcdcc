"""A symbol's trading rules from `exchangeInfo` (LOT_SIZE, NOTIONAL), as Decimals.

A quantity is rounded down to the step (never more than decided); an order Binance would refuse
is refused here with the filter's name, as Binance names it.
"""

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from ..errors import BinanceError

__all__ = ["SymbolRules", "as_decimal", "decimal_text"]


def as_decimal(value):
    """`value` (text, int, float or Decimal) as a Decimal; a float goes through its repr."""
    return value if isinstance(value, Decimal) else Decimal(str(value))


def decimal_text(value):
    """A Decimal as Binance takes it: plain digits, no exponent, no trailing zeros."""
    text = format(as_decimal(value).normalize(), "f")
    return text if text != "-0" else "0"


@dataclass(frozen=True)
class SymbolRules:
    """The rules a market order on one symbol must meet: LOT_SIZE (MARKET_LOT_SIZE where
    set), PRICE_FILTER's tick, NOTIONAL (or MIN_NOTIONAL) bounds where they apply to market
    orders (0 and `None` when unset)."""

    symbol: str
    base_asset: str
    quote_asset: str
    min_qty: Decimal
    max_qty: Decimal
    step_size: Decimal
    tick_size: Decimal = Decimal(0)
    min_notional: Decimal = Decimal(0)
    max_notional: Decimal | None = None

    @classmethod
    def from_exchange_info(cls, info, symbol):
        """The rules of `symbol` in an `/api/v3/exchangeInfo` answer (`BinanceError` when it
        is missing or not trading)."""
        entry = next((s for s in info.get("symbols", ()) if s.get("symbol") == symbol), None)
        if entry is None:
            raise BinanceError(f"exchangeInfo has no symbol {symbol!r}; check the symbol.")
        if entry.get("status", "TRADING") != "TRADING":
            raise BinanceError(f"{symbol} is not trading now (status {entry['status']}).")
        filters = {f["filterType"]: f for f in entry.get("filters", ())}
        lot = filters.get("LOT_SIZE", {})
        market_lot = filters.get("MARKET_LOT_SIZE", {})
        if as_decimal(market_lot.get("stepSize", 0)) > 0:
            lot = {**lot, **market_lot}
        notional = filters.get("NOTIONAL") or filters.get("MIN_NOTIONAL") or {}
        applies_min = notional.get("applyMinToMarket", notional.get("applyToMarket", True))
        applies_max = notional.get("applyMaxToMarket", False)
        max_notional = as_decimal(notional.get("maxNotional", 0))
        return cls(
            symbol=symbol,
            base_asset=entry["baseAsset"],
            quote_asset=entry["quoteAsset"],
            min_qty=as_decimal(lot.get("minQty", 0)),
            max_qty=as_decimal(lot.get("maxQty", 0)) or Decimal("Infinity"),
            step_size=as_decimal(lot.get("stepSize", 0)),
            tick_size=as_decimal(filters.get("PRICE_FILTER", {}).get("tickSize", 0)),
            min_notional=as_decimal(notional.get("minNotional", 0)) if applies_min else Decimal(0),
            max_notional=max_notional if applies_max and max_notional > 0 else None,
        )

    def market_quantity(self, quantity):
        """`quantity` rounded down to the lot step (unchanged when there is no step)."""
        quantity = as_decimal(quantity)
        if self.step_size <= 0:
            return quantity
        steps = ((quantity - self.min_qty) / self.step_size).to_integral_value(ROUND_DOWN)
        return max(self.min_qty + steps * self.step_size, Decimal(0)).normalize()

    def market_refusal(self, quantity, price):
        """Binance's filter message for a market order of `quantity` (rounded) near `price`,
        e.g. `"Filter failure: NOTIONAL (...)"`, or `None`."""
        quantity, price = as_decimal(quantity), as_decimal(price)
        if quantity < self.min_qty or quantity > self.max_qty or quantity <= 0:
            return (f"Filter failure: LOT_SIZE (quantity {decimal_text(quantity)} outside "
                    f"[{decimal_text(self.min_qty)}, {decimal_text(self.max_qty)}])")
        notional = quantity * price
        if notional < self.min_notional:
            return (f"Filter failure: NOTIONAL ({decimal_text(notional)} {self.quote_asset} "
                    f"below the minimum {decimal_text(self.min_notional)})")
        if self.max_notional is not None and notional > self.max_notional:
            return (f"Filter failure: NOTIONAL ({decimal_text(notional)} {self.quote_asset} "
                    f"above the maximum {decimal_text(self.max_notional)})")
        return None
