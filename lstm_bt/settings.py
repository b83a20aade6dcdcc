"""Where lstm-bt talks to and writes to, decided in one place: an argument, else an
environment variable (`LSTM_BT_BINANCE_URL`, `LSTM_BT_STREAM_URL`, `LSTM_BT_DATA_DIR`,
`LSTM_BT_REQUEST_DEADLINE`, `LSTM_BT_RETRY_BUDGET`), else the default."""

import os
import re
from pathlib import Path

from .errors import InvalidParameter

__all__ = [
    "DEFAULT_BASE_URL",
    "ALTERNATIVE_BASE_URL",
    "DEFAULT_STREAM_URL",
    "DEFAULT_DATA_DIR",
    "resolve_base_url",
    "resolve_stream_url",
    "resolve_data_dir",
    "resolve_seconds",
    "validate_symbol",
]

DEFAULT_BASE_URL = "https://api.binance.com"
ALTERNATIVE_BASE_URL = "https://data-api.binance.vision"
DEFAULT_STREAM_URL = "wss://stream.binance.com:9443"
ALTERNATIVE_STREAM_URL = "wss://data-stream.binance.vision"
DEFAULT_DATA_DIR = "feeds"
BASE_URL_ENV = "LSTM_BT_BINANCE_URL"
STREAM_URL_ENV = "LSTM_BT_STREAM_URL"
DATA_DIR_ENV = "LSTM_BT_DATA_DIR"
REQUEST_DEADLINE_ENV = "LSTM_BT_REQUEST_DEADLINE"
RETRY_BUDGET_ENV = "LSTM_BT_RETRY_BUDGET"

_SYMBOL = re.compile(r"^[A-Z0-9\-_.]{1,20}$")


def resolve_base_url(base_url=None):
    """The Binance REST root without a trailing slash: `base_url`, else `LSTM_BT_BINANCE_URL`,
    else `https://api.binance.com`; `InvalidParameter` unless an http(s) URL."""
    url = base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    if not re.match(r"^https?://[^/\s]+", url):
        raise InvalidParameter(
            f"Received an invalid value for `--base-url`: {url!r}. "
            f"Give an http(s) root such as {ALTERNATIVE_BASE_URL}."
        )
    return url.rstrip("/")


def resolve_stream_url(stream_url=None):
    """The Binance websocket root without a trailing slash: `stream_url`, else
    `LSTM_BT_STREAM_URL`, else `wss://stream.binance.com:9443`; `InvalidParameter` unless a
    ws(s) URL."""
    url = stream_url or os.environ.get(STREAM_URL_ENV) or DEFAULT_STREAM_URL
    if not re.match(r"^wss?://[^/\s]+", url):
        raise InvalidParameter(
            f"Received an invalid value for `--stream-url`: {url!r}. "
            f"Give a ws(s) root such as {ALTERNATIVE_STREAM_URL}."
        )
    return url.rstrip("/")


def resolve_data_dir(data_dir=None):
    """The data directory (kline store, forecast cache): `data_dir`, else `LSTM_BT_DATA_DIR`,
    else `./feeds`; not created here."""
    return Path(data_dir or os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR)


def resolve_seconds(value, env, default, name):
    """A positive, finite number of seconds: `value`, else the `env` variable, else `default`;
    `InvalidParameter` naming `name` (or `env`) otherwise."""
    source = name
    if value is None and os.environ.get(env):
        value, source = os.environ[env], env
    if value is None:
        return float(default)
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = float("nan")
    if not 0 < seconds < float("inf"):
        raise InvalidParameter(
            f"Received an invalid value for `{source}`: {value!r}; expected a positive number "
            f"of seconds, e.g. {default:g}."
        )
    return seconds


def validate_symbol(symbol, name="symbol"):
    """`symbol` if it matches Binance's pattern (checked before it reaches a path or a URL),
    else `InvalidParameter` naming `name`."""
    if isinstance(symbol, str) and _SYMBOL.match(symbol):
        return symbol
    hint = ""
    if isinstance(symbol, str) and _SYMBOL.match(symbol.strip().upper()):
        hint = f" Did you mean {symbol.strip().upper()!r}?"
    raise InvalidParameter(
        f"Received an invalid value for `{name}`: {symbol!r}. Binance symbols are 1-20 "
        f"upper-case letters, digits, '-', '_' or '.', e.g. BTCUSDT.{hint}"
    )
