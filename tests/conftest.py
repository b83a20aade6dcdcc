"""Shared fixtures: paths to the real data in ../shared/data (skipped cleanly when absent)."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("LSTM_BT_SHARED_DATA", ROOT.parent / "shared" / "data"))

# Tests must never depend on a user's environment pointing somewhere else.
for _name in ("LSTM_BT_BINANCE_URL", "LSTM_BT_DATA_DIR"):
    os.environ.pop(_name, None)


@pytest.fixture
def shared_data():
    """Directory of real Binance klines; skips the test when it is not there."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def served_btcusdt_1h():
    """The deterministic BTCUSDT 1h bars the `binance_server` fixture serves: 20,000 bars from
    2023-07-01, so the year 2024 (8,784 bars) is complete and closed."""
    from lstm_bt.synthetic import random_walk

    return random_walk(20_000, interval="1h", start="2023-07-01", seed=42)


@pytest.fixture
def binance_server(served_btcusdt_1h):
    """A `BinanceTestServer` on 127.0.0.1 serving `served_btcusdt_1h` as BTCUSDT 1h.

    Give `binance_server.url` as the base URL; script faults with `fail`, `drop` and
    `go_down_after`; read `klines_requests` for what the client asked (see binance_server.py).
    """
    from binance_server import BinanceTestServer

    with BinanceTestServer() as server:
        server.serve("BTCUSDT", "1h", served_btcusdt_1h)
        yield server
