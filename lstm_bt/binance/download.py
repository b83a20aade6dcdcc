"""Fill the kline store from Binance and read klines back."""

import logging
import sys

from tqdm import tqdm

from ..data.dates import check_range, from_ms, parse_date, to_ms, utc_now
from ..errors import BinanceError, DataError, NetworkError
from ..data.intervals import get_interval
from .rest import BinanceClient
from ..settings import validate_symbol
from .store import KlineStore

__all__ = ["load_klines", "update_store"]

logger = logging.getLogger(__name__)


def load_klines(symbol, interval, start, end=None, *, base_url=None, data_dir=None,
                progress=False, offline=False, request_deadline=None, retry_budget=None):
    """Klines for `[start, end)`, fetching from Binance only what the store lacks.

    Args:
        symbol: Binance symbol, e.g. `"BTCUSDT"`.
        interval: Binance interval name, e.g. `"1h"`.
        start: first open time (inclusive), a UTC `datetime` or text like `"2024-01-01"`.
        end: end (exclusive), same forms. Defaults to `None`: up to the last closed candle.
        base_url: REST root. Defaults to `None`: `LSTM_BT_BINANCE_URL`, else
            `https://api.binance.com`.
        data_dir: directory of the kline store. Defaults to `None`: `LSTM_BT_DATA_DIR`, else
            `./feeds`.
        progress: show a progress bar on stderr. Defaults to `False`.
        offline: read the store only, never the network. Defaults to `False`.
        request_deadline: seconds one request may take in all. Defaults to `None`:
            `LSTM_BT_REQUEST_DEADLINE`, else 30.
        retry_budget: seconds the fetch may spend on failed requests and waits. Defaults to
            `None`: `LSTM_BT_RETRY_BUDGET`, else 120.

    Raises:
        BinanceError, NetworkError: the message names the range still missing; pages stored
            before are kept.
        DataError: offline, and the store lacks bars of the range.
    """
    symbol = validate_symbol(symbol)
    step = get_interval(interval)
    start = parse_date(start, "start")
    end = parse_date(end, "end") if end is not None else None
    check_range(start, end)
    start_ms = to_ms(start)
    end_ms = to_ms(end) if end is not None else to_ms(utc_now())
    with KlineStore.in_dir(data_dir) as store:
        if offline:
            _require_stored(store, symbol, step, start_ms, end_ms)
        else:
            with BinanceClient(base_url, deadline=request_deadline,
                               retry_budget=retry_budget) as client:
                update_store(store, client, symbol, step, start_ms, end_ms, progress=progress)
        return store.read_frame(symbol, step, start_ms, end_ms)


def _require_stored(store, symbol, step, start_ms, end_ms):
    """Raise `DataError` naming the closed bars of the range the store lacks."""
    last_closed_open = to_ms(utc_now()) - step.longest_ms
    missing = [(begin, end) for begin, end in store.missing_ranges(symbol, step, start_ms, end_ms)
               if begin <= last_closed_open]
    if not missing:
        return
    first, last = missing[0][0], missing[-1][1]
    parts = f" in {len(missing)} pieces" if len(missing) > 1 else ""
    raise DataError(
        f"Offline, and the kline store {store.path} lacks {symbol} {step} bars from "
        f"{_when(first)} to {_when(last)}{parts}. Fetch them first: lstm-bt fetch --symbol "
        f"{symbol} --interval {step} --start {_when(first, 'T')} --end {_when(last, 'T')}"
        f" (with the same --data-dir)."
    )


def _when(ms, separator=" "):
    return from_ms(ms).strftime(f"%Y-%m-%d{separator}%H:%M")


def update_store(store, client, symbol, interval, start_ms, end_ms, *, progress=False):
    """Fetch the parts of `[start_ms, end_ms)` the store lacks, page by page.

    Returns the number of bars stored. A network failure or rate limit names the range still
    missing and the bars already stored.
    """
    step = get_interval(interval)
    store.forget_future(symbol, step, to_ms(utc_now()))
    missing = store.missing_ranges(symbol, step, start_ms, end_ms)
    bar_ms = step.longest_ms
    expected_bars = sum(-(-(min(end, to_ms(utc_now())) - begin) // bar_ms)
                        for begin, end in missing)
    stored = 0
    with tqdm(total=max(expected_bars, 0), unit="bar", desc=f"{symbol} {step}",
              disable=not progress, file=sys.stderr, leave=False) as bar:
        try:
            for begin, end in missing:
                logger.info("fetching %s %s [%d, %d)", symbol, step, begin, end)
                for page in client.iter_kline_pages(symbol, step, begin, end):
                    store.save_page(symbol, step, page)
                    stored += len(page.rows)
                    bar.update(min(-(-(page.end_ms - page.start_ms) // bar_ms),
                                   bar.total - bar.n))
        except (NetworkError, BinanceError) as error:
            still = store.missing_ranges(symbol, step, start_ms, end_ms)
            if still and (isinstance(error, NetworkError) or error.status in (418, 429)):
                error.args = (f"{error} Still missing: {symbol} {step} bars from "
                              f"{_when(still[0][0])} to {_when(still[-1][1])}; the {stored} bars "
                              f"fetched before are stored.",)
            raise
    return stored
