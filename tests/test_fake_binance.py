"""The fake Binance's exchangeInfo: the shape the paper broker's filters are read from."""

import requests
from helpers.fake_binance import FakeBinance


def test_exchange_info_lists_the_symbols_filters_as_binance_does():
    with FakeBinance(history=5, bars=5, filters={"step_size": "0.00100000"}) as fake:
        answer = requests.get(f"{fake.rest_url}/api/v3/exchangeInfo",
                              params={"symbol": "BTCUSDT"}, timeout=5)

    assert answer.status_code == 200
    (entry,) = answer.json()["symbols"]
    assert (entry["symbol"], entry["baseAsset"], entry["quoteAsset"]) == ("BTCUSDT", "BTC", "USDT")
    filters = {item["filterType"]: item for item in entry["filters"]}
    assert filters["LOT_SIZE"] == {"filterType": "LOT_SIZE", "minQty": "0.00001000",
                                   "maxQty": "9000.00000000", "stepSize": "0.00100000"}
    assert filters["PRICE_FILTER"]["tickSize"] == "0.01000000"
    assert filters["NOTIONAL"]["minNotional"] == "5.00000000"
    assert filters["NOTIONAL"]["applyMinToMarket"] is True


def test_exchange_info_refuses_an_unknown_symbol_with_binances_error():
    with FakeBinance(history=5, bars=5) as fake:
        answer = requests.get(f"{fake.rest_url}/api/v3/exchangeInfo",
                              params={"symbol": "NOPEUSDT"}, timeout=5)

    assert answer.status_code == 400
    assert answer.json() == {"code": -1121, "msg": "Invalid symbol."}
