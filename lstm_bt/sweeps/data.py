"""Load a sweep's data once, in the client: each task gets its slice, workers read no disk."""

import pandas as pd

from ..errors import InvalidParameter

__all__ = ["load_sources"]


def load_sources(spec, data_dir=None, base_url=None, progress=False):
    """The bars of every data source: symbols through the kline store, from the earliest start
    less the longest warm-up to the latest end; files whole.

    Args:
        spec: a `SweepSpec`.
        data_dir: kline store directory. Defaults to the configured one.
        base_url: Binance REST root. Defaults to the configured one.
        progress: show download progress bars. Defaults to `False`.

    Returns:
        [(symbol, interval, kline frame), ...] in the spec's order.

    Raises:
        DataError, BinanceError, NetworkError: a source cannot be read.
        InvalidParameter: two files hold the same symbol.
    """
    from ..run.backtest_data import load_backtest_data
    from .cell import required_history

    sources = []
    if spec.symbols:
        starts = [pd.Timestamp(start) for start, _ in spec.periods]
        ends = [pd.Timestamp(end) for _, end in spec.periods]
        history = max(required_history(model) for model in spec.model_configs())
        for symbol in spec.symbols:
            bars = load_backtest_data(None, symbol=symbol, interval=spec.interval,
                                      start=min(starts).to_pydatetime(),
                                      end=max(ends).to_pydatetime(), history=history,
                                      base_url=base_url, data_dir=data_dir, progress=progress)
            sources.append((symbol, bars.interval, bars.frame))
    else:
        for path in spec.files:
            bars = load_backtest_data(path, interval=spec.interval)
            if any(bars.symbol == symbol for symbol, _, _ in sources):
                raise InvalidParameter(
                    f"[data] files: two files hold the symbol {bars.symbol!r}; give each "
                    "symbol one file (join them first).")
            sources.append((bars.symbol, bars.interval, bars.frame))
    return sources
