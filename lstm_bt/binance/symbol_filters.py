"""A symbol's trading rules from Binance's `exchangeInfo`: lot size, price tick, notional.

Binance refuses an order whose quantity is not a multiple of the lot step (`LOT_SIZE`, and
`MARKET_LOT_SIZE` for market orders) or lies outside its bounds, whose price is not a
multiple of the tick (`PRICE_FILTER`), or whose value is below the minimum (`NOTIONAL`, or
`MIN_NOTIONAL` on older symbols). `SymbolFilters` rounds a quantity down to the step and a
price to the tick, as a client does before sending, and says why the exchange would still
refuse an order, in Binance's words ("Filter failure: NOTIONAL"). A rule whose value is 0 is
off, as Binance documents for its filters.

Decimal arithmetic on the exchange's decimal strings: `0.1 + 0.2` style float error must not
turn an exact multiple of the step into a refusal.
"""

from dataclasses import asdict, dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal

from ..errors import BinanceError

__all__ = ["SymbolFilters", "EXCHANGE_INFO_PATH", "fetch_symbol_filters"]

EXCHANGE_INFO_PATH = "/api/v3/exchangeInfo"


@dataclass(frozen=True)
class SymbolFilters:
    """The filters of one symbol, as decimal strings (0 = the rule is off).

    Attributes:
        symbol: the symbol, e.g. `"BTCUSDT"`.
        step_size, min_qty, max_qty: `LOT_SIZE`.
        market_step_size, market_min_qty, market_max_qty: `MARKET_LOT_SIZE` (market orders).
        tick_size, min_price, max_price: `PRICE_FILTER` (orders that carry a price).
        min_notional, max_notional: `NOTIONAL` (or `MIN_NOTIONAL`): price x quantity bounds.
        notional_on_market: whether the notional bounds apply to market orders.
    """

    symbol: str
    step_size: str = "0"
    min_qty: str = "0"
    max_qty: str = "0"
    market_step_size: str = "0"
    market_min_qty: str = "0"
    market_max_qty: str = "0"
    tick_size: str = "0"
    min_price: str = "0"
    max_price: str = "0"
    min_notional: str = "0"
    max_notional: str = "0"
    notional_on_market: bool = True

    @classmethod
    def from_exchange_info(cls, info, symbol):
        """The filters of `symbol` in an `exchangeInfo` answer (a dict).

        Raises:
            BinanceError: the answer does not list `symbol` or its filters.
        """
        try:
            entry = next(item for item in info["symbols"] if item["symbol"] == symbol)
            filters = {item["filterType"]: item for item in entry["filters"]}
        except (KeyError, TypeError, StopIteration):
            raise BinanceError(
                f"exchangeInfo lists no filters for {symbol}; check the symbol and `--base-url`."
            ) from None
        lot = filters.get("LOT_SIZE", {})
        market = filters.get("MARKET_LOT_SIZE", {})
        price = filters.get("PRICE_FILTER", {})
        notional = filters.get("NOTIONAL") or filters.get("MIN_NOTIONAL") or {}
        return cls(
            symbol=symbol,
            step_size=_text(lot.get("stepSize")), min_qty=_text(lot.get("minQty")),
            max_qty=_text(lot.get("maxQty")),
            market_step_size=_text(market.get("stepSize")),
            market_min_qty=_text(market.get("minQty")),
            market_max_qty=_text(market.get("maxQty")),
            tick_size=_text(price.get("tickSize")), min_price=_text(price.get("minPrice")),
            max_price=_text(price.get("maxPrice")),
            min_notional=_text(notional.get("minNotional")),
            max_notional=_text(notional.get("maxNotional")),
            notional_on_market=bool(notional.get("applyMinToMarket",
                                                 notional.get("applyToMarket", True))),
        )

    def to_dict(self):
        """The filters as a JSON-ready dict (`from_dict` reads it back)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values):
        """Filters from `to_dict`'s output."""
        return cls(**values)

    def round_quantity(self, quantity, market=True):
        """`quantity` (>= 0) rounded down to the lot step (the market step for market orders
        when the exchange sets one), as a float."""
        step = Decimal(self.step_size)
        if market and Decimal(self.market_step_size) > 0:
            step = max(step, Decimal(self.market_step_size))
        return float(_floor_to(Decimal(repr(float(quantity))), step))

    def round_price(self, price):
        """`price` rounded to the nearest tick, as a float."""
        tick = Decimal(self.tick_size)
        value = Decimal(repr(float(price)))
        if tick <= 0:
            return float(value)
        return float((value / tick).quantize(Decimal(1), rounding=ROUND_HALF_EVEN) * tick)

    def refusal(self, quantity, price, market=True):
        """Why Binance would refuse an order of `quantity` (>= 0) at `price`, or None.

        Args:
            quantity: the order's quantity (unsigned), already rounded.
            price: the order's price; for a market order, the reference price its value is
                judged at (Binance uses a recent average; here the last close).
            market: whether it is a market order (no price of its own). Defaults to `True`.

        Returns:
            Binance's message, e.g. `"Filter failure: NOTIONAL"`, or None.
        """
        qty = Decimal(repr(float(quantity)))
        at = Decimal(repr(float(price)))
        if qty <= 0 or not _fits(qty, self.min_qty, self.max_qty, self.step_size):
            return "Filter failure: LOT_SIZE"
        if market and not _fits(qty, self.market_min_qty, self.market_max_qty,
                                self.market_step_size):
            return "Filter failure: MARKET_LOT_SIZE"
        if not market and not _fits(at, self.min_price, self.max_price, self.tick_size):
            return "Filter failure: PRICE_FILTER"
        if not market or self.notional_on_market:
            value = qty * at
            low, high = Decimal(self.min_notional), Decimal(self.max_notional)
            if value < low or (high > 0 and value > high):
                return "Filter failure: NOTIONAL"
        return None


def fetch_symbol_filters(symbol, base_url=None):
    """`SymbolFilters` of `symbol` from `GET /api/v3/exchangeInfo` at `base_url`.

    Args:
        symbol: Binance symbol, e.g. `"BTCUSDT"`.
        base_url: REST root. Defaults to `None`: `LSTM_BT_BINANCE_URL`, else
            `https://api.binance.com`.

    Raises:
        BinanceError, NetworkError: as for klines; also when the answer is not exchangeInfo.
    """
    from .rest import BinanceClient

    with BinanceClient(base_url) as client:
        # The client's retries, deadlines and error messages, for one more public endpoint.
        response = client._get(EXCHANGE_INFO_PATH, {"symbol": symbol})
        try:
            info = response.json()
        except ValueError:
            raise BinanceError(
                f"{client.base_url}{EXCHANGE_INFO_PATH} did not answer with JSON; check "
                f"`--base-url`.") from None
    return SymbolFilters.from_exchange_info(info, symbol)


def _text(value):
    return str(value) if value is not None else "0"


def _floor_to(value, step):
    if step <= 0:
        return value
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step


def _fits(value, low, high, step):
    """Whether `value` is within [low, high] and a multiple of `step` above `low` (each
    rule off at 0)."""
    low, high, step = Decimal(low), Decimal(high), Decimal(step)
    if value < low or (high > 0 and value > high):
        return False
    return step <= 0 or (value - low) % step == 0
