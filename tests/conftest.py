"""Shared fixtures: paths to the real data in ../shared/data (skipped cleanly when absent)."""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("LSTM_BT_SHARED_DATA", ROOT.parent / "shared" / "data"))

# Tests must never depend on a user's environment pointing somewhere else, nor leave a kline
# store or forecast cache in the working directory: the data dir is a fresh one per session.
os.environ.pop("LSTM_BT_BINANCE_URL", None)
os.environ.pop("LSTM_BT_STREAM_URL", None)
os.environ["LSTM_BT_DATA_DIR"] = tempfile.mkdtemp(prefix="lstm-bt-tests-")


@pytest.fixture(scope="session", autouse=True)
def _remove_session_data_dir():
    yield
    shutil.rmtree(os.environ["LSTM_BT_DATA_DIR"], ignore_errors=True)


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
    from lstm_bt.data.synthetic import random_walk

    return random_walk(20_000, interval="1h", start="2023-07-01", seed=42)


@pytest.fixture
def binance_server(served_btcusdt_1h):
    """A `BinanceTestServer` on 127.0.0.1 serving `served_btcusdt_1h` as BTCUSDT 1h.

    Give `binance_server.url` as the base URL; script faults with `fail`, `drop` and
    `go_down_after`; read `klines_requests` for what the client asked (see binance_server.py).
    """
    from helpers.binance_server import BinanceTestServer

    with BinanceTestServer() as server:
        server.serve("BTCUSDT", "1h", served_btcusdt_1h)
        yield server
