"""Binance klines: the REST client, the local SQLite store and the kline file reader."""

from .download import load_klines, update_store
from .files import CSV_HEADER, find_gaps, infer_interval, read_kline_file, write_kline_csv
from .rest import BinanceClient, KlinePage
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
    "DEFAULT_BASE_URL",
    "ALTERNATIVE_BASE_URL",
    "resolve_base_url",
    "resolve_data_dir",
    "validate_symbol",
]
