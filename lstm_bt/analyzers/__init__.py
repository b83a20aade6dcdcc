"""backtrader analyzers that annualize 24/7 crypto bars correctly, and the report's records.

Each analyzer takes ``start`` (bars before it are warm-up and not measured) and works on any
strategy. `add_all` adds them all under the names the report uses::

    from lstm_bt import analyzers
    analyzers.add_all(cerebro, start=datetime(2024, 1, 1))
    strat = cerebro.run()[0]
    strat.analyzers.sortino.get_analysis()      # {"sortinoratio": ..., ...}
"""


# Absolute imports, so backtrader's `btrun`, which loads a module from its file path, can load
# this file: btrun --analyzer lstm_bt/analyzers/__init__.py:SortinoRatio
from lstm_bt.analyzers.drawdown import MaxDrawdown
from lstm_bt.analyzers.equity_curve import EquityCurve
from lstm_bt.analyzers.forecast import ForecastSkill
from lstm_bt.analyzers.metrics import Benchmark, Metrics
from lstm_bt.analyzers.ratios import SharpeRatio, SortinoRatio
from lstm_bt.analyzers.trade_log import TRADE_COLUMNS, TradeLog
from lstm_bt.errors import InvalidParameter, did_you_mean

__all__ = [
    "SharpeRatio",
    "SortinoRatio",
    "MaxDrawdown",
    "Metrics",
    "Benchmark",
    "ForecastSkill",
    "EquityCurve",
    "TradeLog",
    "TRADE_COLUMNS",
    "ANALYZERS",
    "add_all",
]

# The names `report.json` and the runner read them under.
ANALYZERS = {
    "sharpe": SharpeRatio,
    "sortino": SortinoRatio,
    "drawdown": MaxDrawdown,
    "metrics": Metrics,
    "benchmark": Benchmark,
    "forecast": ForecastSkill,
    "equity": EquityCurve,
    "trades": TradeLog,
}


def add_all(cerebro, start=None, **params):
    """Add every lstm-bt analyzer to `cerebro` under its `ANALYZERS` name.

    Args:
        cerebro: a `backtrader.Cerebro`.
        start: first measured bar (datetime or ISO date); None measures from the first bar.
            Defaults to `None`.
        **params: analyzer params (`bars_per_year`, `risk_free`), each given to the
            analyzers that have it.

    Raises:
        InvalidParameter: a param no analyzer takes (the message suggests the closest name).
    """
    known = {name for cls in ANALYZERS.values() for name in cls.params._getkeys()}
    for name in params:
        if name not in known:
            hint = did_you_mean(name, sorted(known))
            raise InvalidParameter(
                f"add_all() got an unknown analyzer param `{name}`; the analyzers take "
                f"{', '.join(sorted(known))}.{hint}"
            )
    for alias, cls in ANALYZERS.items():
        own = {key: value for key, value in params.items() if key in cls.params._getkeys()}
        cerebro.addanalyzer(cls, _name=alias, start=start, **own)
