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
