"""Binance's symbol filters: parsed from exchangeInfo, quantities and prices rounded as a
client must, orders refused as the exchange would."""

import pytest

from lstm_bt.binance.symbol_filters import SymbolFilters
from lstm_bt.errors import BinanceError


def exchange_info(*filters, symbol="BTCUSDT"):
    return {"symbols": [{"symbol": symbol, "filters": list(filters)}]}


LOT = {"filterType": "LOT_SIZE", "minQty": "0.00100000", "maxQty": "100.00000000",
       "stepSize": "0.00100000"}
PRICE = {"filterType": "PRICE_FILTER", "minPrice": "0.01000000", "maxPrice": "1000000.00",
         "tickSize": "0.01000000"}
NOTIONAL = {"filterType": "NOTIONAL", "minNotional": "5.00000000", "applyMinToMarket": True,
            "maxNotional": "9000000.00000000", "applyMaxToMarket": False, "avgPriceMins": 5}


def filters():
    return SymbolFilters.from_exchange_info(exchange_info(LOT, PRICE, NOTIONAL), "BTCUSDT")


def test_exchange_info_gives_the_symbols_lot_tick_and_notional():
    found = filters()
    assert (found.step_size, found.min_qty, found.tick_size, found.min_notional) == (
        "0.00100000", "0.00100000", "0.01000000", "5.00000000")
    assert SymbolFilters.from_dict(found.to_dict()) == found


def test_older_symbols_min_notional_filter_is_read_too():
    old = {"filterType": "MIN_NOTIONAL", "minNotional": "10.0", "applyToMarket": False}
    found = SymbolFilters.from_exchange_info(exchange_info(LOT, old), "BTCUSDT")
    assert found.min_notional == "10.0" and not found.notional_on_market


def test_a_symbol_missing_from_exchange_info_is_an_error_naming_it():
    with pytest.raises(BinanceError, match="ETHUSDT"):
        SymbolFilters.from_exchange_info(exchange_info(LOT), "ETHUSDT")


def test_quantities_round_down_to_the_step_without_float_error():
    found = filters()
    assert found.round_quantity(0.1923847) == 0.192
    assert found.round_quantity(0.3) == 0.3  # 0.1 + 0.2 style float error would give 0.299
    assert found.round_quantity(0.0009) == 0.0
    assert found.refusal(found.round_quantity(0.1923847), 50_000.0) is None


def test_the_coarser_market_step_rounds_market_orders_only():
    market = {"filterType": "MARKET_LOT_SIZE", "minQty": "0", "maxQty": "50",
              "stepSize": "0.01"}
    found = SymbolFilters.from_exchange_info(exchange_info(LOT, market), "BTCUSDT")
    assert found.round_quantity(0.1234, market=True) == 0.12
    assert found.round_quantity(0.1234, market=False) == 0.123
    assert found.refusal(60.0, 100.0, market=True) == "Filter failure: MARKET_LOT_SIZE"


def test_prices_round_to_the_nearest_tick():
    assert filters().round_price(101.23456) == 101.23
    assert filters().round_price(101.237) == 101.24


@pytest.mark.parametrize("quantity, price, market, reason", [
    (0.0005, 50_000.0, True, "Filter failure: LOT_SIZE"),        # below minQty
    (0.0015, 50_000.0, True, "Filter failure: LOT_SIZE"),        # not a step multiple
    (200.0, 1.0, True, "Filter failure: LOT_SIZE"),              # above maxQty
    (0.002, 2_000.0, True, "Filter failure: NOTIONAL"),          # 4 USDT < 5
    (0.01, 100.005, False, "Filter failure: PRICE_FILTER"),      # off the tick
    (0.01, 1_000.0, False, None),
    (0.002, 2_600.0, True, None),
])
def test_orders_the_exchange_refuses_get_its_reason(quantity, price, market, reason):
    assert filters().refusal(quantity, price, market=market) == reason


def test_a_rule_at_zero_is_off():
    assert SymbolFilters("XUSDT").round_quantity(0.123456789) == 0.123456789
    assert SymbolFilters("XUSDT").refusal(0.123456789, 1e-6) is None
