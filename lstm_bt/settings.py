"""Where the data layer talks to and writes to, decided in one place.

Base URL: argument > `LSTM_BT_BINANCE_URL` > `https://api.binance.com`.
Stream URL (the websocket root of the kline stream): argument > `LSTM_BT_STREAM_URL` >
`wss://stream.binance.com:9443`.
Data directory: argument > `LSTM_BT_DATA_DIR` > `./feeds`.
Time bounds of a fetch: argument > `LSTM_BT_REQUEST_DEADLINE` (seconds one request may take in
all) / `LSTM_BT_RETRY_BUDGET` (seconds one fetch may spend on failed requests and waits) > default.
Symbols are checked against Binance's own pattern before they reach a path or a URL.
"""

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
    """The Binance REST root to use, without a trailing slash.

    Args:
        base_url: an explicit root such as `https://data-api.binance.vision`. Defaults to
            `None`: `LSTM_BT_BINANCE_URL` if set, else `https://api.binance.com`.

    Raises:
        InvalidParameter: the root is not an http(s) URL.
    """
    url = base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    if not re.match(r"^https?://[^/\s]+", url):
        raise InvalidParameter(
            f"Received an invalid value for `--base-url`: {url!r}. "
            f"Give an http(s) root such as {ALTERNATIVE_BASE_URL}."
        )
    return url.rstrip("/")


def resolve_stream_url(stream_url=None):
    """The Binance websocket root to use for market streams, without a trailing slash.

    Args:
        stream_url: an explicit root such as `wss://data-stream.binance.vision`. Defaults to
            `None`: `LSTM_BT_STREAM_URL` if set, else `wss://stream.binance.com:9443`.

    Raises:
        InvalidParameter: the root is not a ws(s) URL.
    """
    url = stream_url or os.environ.get(STREAM_URL_ENV) or DEFAULT_STREAM_URL
    if not re.match(r"^wss?://[^/\s]+", url):
        raise InvalidParameter(
            f"Received an invalid value for `--stream-url`: {url!r}. "
            f"Give a ws(s) root such as {ALTERNATIVE_STREAM_URL}."
        )
    return url.rstrip("/")


def resolve_data_dir(data_dir=None):
    """The directory that holds the kline store (not created here).

    Args:
        data_dir: an explicit directory. Defaults to `None`: `LSTM_BT_DATA_DIR` if set,
            else `./feeds`.
    """
    return Path(data_dir or os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR)


def resolve_seconds(value, env, default, name):
    """A positive, finite number of seconds: `value`, else the `env` variable, else `default`.

    Args:
        value: an explicit number, or `None`.
        env: the environment variable read when `value` is `None`.
        default: the number used when neither is set.
        name: the argument's name as the user wrote it (e.g. `"--request-deadline"`).

    Raises:
        InvalidParameter: the value (or the variable) is not a positive, finite number.
    """
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
    """Return `symbol` if Binance could accept it, else raise.

    Args:
        symbol: the symbol to check, e.g. `"BTCUSDT"`.
        name: the argument's name as the user wrote it, used in the error. Defaults to
            `"symbol"`.

    Raises:
        InvalidParameter: the symbol does not match `^[A-Z0-9-_.]{1,20}$`.
    """
    if isinstance(symbol, str) and _SYMBOL.match(symbol):
        return symbol
    hint = ""
    if isinstance(symbol, str) and _SYMBOL.match(symbol.strip().upper()):
        hint = f" Did you mean {symbol.strip().upper()!r}?"
    raise InvalidParameter(
        f"Received an invalid value for `{name}`: {symbol!r}. Binance symbols are 1-20 "
        f"upper-case letters, digits, '-', '_' or '.', e.g. BTCUSDT.{hint}"
    )
