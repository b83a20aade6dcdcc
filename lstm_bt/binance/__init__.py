"""Binance: klines (REST client, SQLite store, file reader) and signed account calls."""

from .download import load_klines, update_store
from .files import CSV_HEADER, find_gaps, infer_interval, read_kline_file, write_kline_csv
from .account import SignedClient
from .filters import SymbolRules
from .rest import BinanceClient, KlinePage
from .signing import ApiKey, load_api_key
from ..settings import (
    ALTERNATIVE_BASE_URL,
    DEFAULT_BASE_URL,
    resolve_base_url,
    resolve_data_dir,
    validate_symbol,
)
from .store import KlineStore

__all__ = [
    "load_klines",
    "update_store",
    "read_kline_file",
    "write_kline_csv",
    "infer_interval",
    "find_gaps",
    "CSV_HEADER",
    "BinanceClient",
    "KlinePage",
    "KlineStore",
    "SignedClient",
    "ApiKey",
    "load_api_key",
    "SymbolRules",
    "DEFAULT_BASE_URL",
    "ALTERNATIVE_BASE_URL",
    "resolve_base_url",
    "resolve_data_dir",
    "validate_symbol",
]
