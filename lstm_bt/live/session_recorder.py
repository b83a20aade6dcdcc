"""`SessionRecorder`: the analyzer that journals a session's decisions and keeps its files.

Added after lstm-bt's analyzers, it runs at each bar once the strategy has acted and the
other analyzers have read the bar: it journals the bar's forecast (already journaled by the
paper broker when it led to an order), the trades that closed and the equity point (on a
replay, checks them against the journal instead), and, once the
session has caught up with its journal, rewrites the state directory's files and reports the
bar (for the status line).
"""

import time

import backtrader as bt

from ..analyzers._measured import MeasuredAnalyzer
from ..data.bar_times import bar_time
from ..data.dates import from_ms, to_ms
from ..models.walk_forward import WalkForward
from ..run.runner import build_result
from .live_klines import open_ms
from .session_files import write_session_files

__all__ = ["SessionRecorder", "journal_forecast"]


class SessionRecorder(bt.Analyzer):
    """Journal each bar's forecast, closed trades and equity; keep the session files current.

    Params:
        journal: the session's `Journal`, or None to keep no journal. Defaults to `None`.
        state_dir: the directory the files are written to, or None for none. Defaults to
            `None`.
        params: the report's `params` section (strategy, its params, broker, seed).
            Defaults to `None`.
        on_bar: called with a dict (`datetime`, `position`, `equity`, `next_retrain`) after
            every bar the session did not replay. Defaults to `None`.
    """

    params = (("journal", None), ("state_dir", None), ("params", None), ("on_bar", None))

    def start(self):
        self._began = time.perf_counter()
        self._trades_seen = 0

    def next(self):
        strategy, data = self.strategy, self.strategy.data
        when, key = bar_time(data), open_ms(data)
        measured = strategy.measure_from is not None and when >= strategy.measure_from
        if measured:
            journal_forecast(self.p.journal, strategy)
            self._record_trades()
            position = strategy.getposition(data).size
            self._record("equity", key, {"value": self.strategy.broker.getvalue(),
                                         "cash": self.strategy.broker.getcash(),
                                         "position": position})
        if not data.caught_up:
            return  # replaying: files and status wait for the last journaled bar
        if measured:
            self._write_files(stopping=False)
        if self.p.on_bar is not None:
            self._report(when)

    def stop(self):
        self._write_files(stopping=True)

    def _record_trades(self):
        rows = self.strategy.analyzers.trades.get_analysis()
        closed = rows.get("close_datetime", [])
        for i in range(self._trades_seen, len(closed)):
            row = {name: values[i] for name, values in rows.items()}
            row = {name: value.isoformat() if hasattr(value, "isoformat") else value
                   for name, value in row.items()}
            self._record("trade", i, row)
        self._trades_seen = len(closed)

    def _record(self, kind, key, payload):
        if self.p.journal is not None:
            self.p.journal.record(kind, key, payload)

    def _write_files(self, stopping):
        if self.p.state_dir is None or self.strategy.measure_from is None:
            return
        strategy = self.strategy
        if not stopping:
            # The measuring analyzers do their maths in stop(); run it for the bars so far.
            for analyzer in strategy.analyzers:
                if isinstance(analyzer, MeasuredAnalyzer):
                    analyzer.stop()
        data = strategy.data
        head = {"data": {"symbol": data.p.symbol, "interval": data.interval.name,
                         "start": data.first_live.isoformat(),
                         "end": _bar_end(data).isoformat(), "bars": data.live_bars},
                "params": self.p.params or {}}
        result = build_result(strategy, head, total_s=time.perf_counter() - self._began)
        write_session_files(self.p.state_dir, result)

    def _report(self, when):
        strategy = self.strategy
        self.p.on_bar({
            "datetime": when,
            "position": strategy.getposition(strategy.data).size,
            "equity": strategy.broker.getvalue(),
            "next_retrain": _next_retrain(strategy, when),
        })


def journal_forecast(journal, strategy):
    """Journal the forecast `strategy` made at its data's current bar, if it made one (the
    last row of `forecasts_frame()`); nothing without a journal. Called before an order
    (`BinanceBroker`) and after the bar (`SessionRecorder`): the second call finds it written."""
    if journal is None or not hasattr(strategy, "forecasts_frame"):
        return
    frame = strategy.forecasts_frame()
    if len(frame) and frame["datetime"].iloc[-1] == bar_time(strategy.data):
        row = frame.iloc[-1]
        journal.record("forecast", open_ms(strategy.data), {
            "close": float(row["close"]), "predicted_close": float(row["predicted_close"]),
            "signal": int(row["signal"])})


def _bar_end(data):
    """The exclusive end of the session's bars so far: the next bar's open time."""
    return from_ms(data.interval.next_open(open_ms(data)))


def _next_retrain(strategy, when):
    """`(bars, moment)`: the walk-forward fits its next model in `bars` bars, at `moment`
    (that bar's close); None when it fits no more models (a replay of stored forecasts)."""
    walk = strategy.walk
    if not isinstance(walk, WalkForward) or walk.first_tradable is None:
        return None
    every = walk.params["retrain_every"]
    ahead = every - (len(strategy.data) - 1 - walk.first_tradable) % every
    step, moment = strategy.data.interval, to_ms(when)
    for _ in range(ahead + 1):
        moment = step.next_open(moment)
    return ahead, from_ms(moment)
