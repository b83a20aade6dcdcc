"""Binance's symbol filters: parsed from exchangeInfo, quantities and prices rounded as a
client must, orders refused as the exchange would."""

import json
from decimal import Decimal

import pytest

from lstm_bt.binance.symbol_filters import SymbolFilters, as_decimal, decimal_text
from lstm_bt.errors import BinanceError


def exchange_info(*filters, symbol="BTCUSDT", status="TRADING"):
    return {"symbols": [{"symbol": symbol, "status": status, "baseAsset": "BTC",
                         "quoteAsset": "USDT", "filters": list(filters)}]}


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
    assert (found.base_asset, found.quote_asset) == ("BTC", "USDT")
    assert SymbolFilters.from_dict(found.to_dict()) == found
    # as the live session journals them: a resumed session reads back the same filters
    assert SymbolFilters.from_dict(json.loads(json.dumps(found.to_dict()))) == found


def test_older_symbols_min_notional_filter_is_read_too():
    old = {"filterType": "MIN_NOTIONAL", "minNotional": "10.0", "applyToMarket": False}
    found = SymbolFilters.from_exchange_info(exchange_info(LOT, old), "BTCUSDT")
    assert found.min_notional == "10.0" and not found.notional_on_market


def test_a_symbol_missing_from_exchange_info_is_an_error_naming_it():
    with pytest.raises(BinanceError, match="ETHUSDT"):
        SymbolFilters.from_exchange_info(exchange_info(LOT), "ETHUSDT")


def test_a_symbol_not_trading_is_an_error_naming_its_status():
    with pytest.raises(BinanceError, match="BTCUSDT is not trading now \\(status BREAK\\)"):
        SymbolFilters.from_exchange_info(exchange_info(LOT, status="BREAK"), "BTCUSDT")


def test_quantities_round_down_to_the_step_without_float_error():
    found = filters()
    assert found.round_quantity(0.1923847) == Decimal("0.192")
    assert found.round_quantity(0.3) == Decimal("0.3")  # float error would give 0.299
    assert found.round_quantity(0.0009) == 0
    assert found.refusal(found.round_quantity(0.1923847), 50_000.0) is None


def test_the_coarser_market_step_rounds_market_orders_only():
    market = {"filterType": "MARKET_LOT_SIZE", "minQty": "0", "maxQty": "50",
              "stepSize": "0.01"}
    found = SymbolFilters.from_exchange_info(exchange_info(LOT, market), "BTCUSDT")
    assert found.round_quantity(0.1234, market=True) == Decimal("0.12")
    assert found.round_quantity(0.1234, market=False) == Decimal("0.123")
    assert found.refusal(60.0, 100.0, market=True) == "Filter failure: MARKET_LOT_SIZE"


def test_prices_round_to_the_nearest_tick():
    assert filters().round_price(101.23456) == Decimal("101.23")
    assert filters().round_price(101.237) == Decimal("101.24")


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
    assert SymbolFilters("XUSDT").round_quantity(0.123456789) == Decimal("0.123456789")
    assert SymbolFilters("XUSDT").refusal(0.123456789, 1e-6) is None


def test_decimal_quantities_stay_exact_and_are_written_as_binance_takes_them():
    fine = SymbolFilters("XUSDT", step_size="0.00001000", min_qty="0.00001000")
    assert fine.round_quantity(Decimal("0.0123456789")) == Decimal("0.01234")
    assert fine.round_quantity("123456789.123456789") == Decimal("123456789.12345")
    assert decimal_text(fine.round_quantity(Decimal("0.0123456789"))) == "0.01234"
    assert decimal_text(Decimal("1E+3")) == "1000" and decimal_text("-0.000") == "0"
    assert as_decimal(0.1) == Decimal("0.1") and as_decimal("5.00000000") == 5


def test_the_maximum_notional_binds_market_orders_only_where_the_exchange_says():
    found = filters()  # maxNotional 9000000, applyMaxToMarket false
    assert found.refusal(100.0, 100_000.0, market=True) is None
    assert found.refusal(100.0, 100_000.0, market=False) == "Filter failure: NOTIONAL"
    binding = SymbolFilters.from_exchange_info(
        exchange_info(LOT, PRICE, {**NOTIONAL, "applyMaxToMarket": True}), "BTCUSDT")
    assert binding.refusal(100.0, 100_000.0, market=True) == "Filter failure: NOTIONAL"
