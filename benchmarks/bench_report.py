"""Time the run directory's pictures at 9,000 bars: each PNG, and report.html (Bokeh vs Plotly).

    .venv/bin/python benchmarks/bench_report.py [--bars 9000] [--repeat 3] [--out DIR]
                                                [--skip-plotly] [--skip-browser]

The run is built without training (so only drawing is timed): the closes of BTCUSDT 1h from
../shared/data (a random walk when it is absent), a forecast that sees 30 % of the next move
plus noise, long/flat trades where the forecast is above the close, one retrain every 168 bars.
Prints seconds per PNG (median and minimum of --repeat, wall clock and this process's CPU
time, which a loaded machine inflates less), and for the HTML report: file size, seconds to
write, seconds for headless Chromium to show every plot (when one is on PATH).
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _common import REFERENCE_CSV, machine  # noqa: E402

BOKEH_READY = """(() => { if (!window.Bokeh || !Bokeh.index) return null;
  const types = []; const walk = v => { types.push(v.model.type);
    for (const c of (v.child_views ?? [])) walk(c); };
  Object.values(Bokeh.index).forEach(walk);
  const plots = types.filter(t => t === 'Figure').length;
  return plots >= 3 ? plots : null; })()"""
PLOTLY_READY = """(() => { const g = document.querySelector('.js-plotly-plot');
  return g && g._fullLayout && document.querySelectorAll('.scatterlayer .trace').length >= 5
    ? document.querySelectorAll('.scatterlayer .trace').length : null; })()"""


def synthetic_run(bars, cash=10_000.0, commission=0.001):
    """A `RunRecord` of `bars` hourly bars with forecasts, trades, equity and 1 fit / 168 bars."""
    from lstm_bt import stats
    from lstm_bt.run.run_dir import RunRecord

    if REFERENCE_CSV.exists():
        from lstm_bt.binance.files import read_kline_file

        close = read_kline_file(REFERENCE_CSV)["close"].iloc[-bars:]
    else:
        from lstm_bt.data.synthetic import random_walk

        close = random_walk(bars, interval="1h", seed=1)["close"]
    close.index.name = "datetime"
    rng = np.random.default_rng(0)
    following = close.shift(-1).fillna(close.iloc[-1])
    predicted = close + 0.3 * (following - close) + rng.normal(0, 0.002, bars) * close
    signal = (predicted > close * 1.0005).astype(int)
    forecasts = pd.DataFrame({"close": close, "predicted_close": predicted, "signal": signal})
    held = signal.shift(1).fillna(0).to_numpy()
    step = close.pct_change().fillna(0).to_numpy()
    turnover = np.abs(np.diff(np.r_[0.0, held]))
    value = cash * np.cumprod(1 + held * step - turnover * commission)
    equity = pd.DataFrame({"value": value, "benchmark": cash * close / close.iloc[0]},
                          index=close.index)
    changes = np.flatnonzero(np.diff(np.r_[0, held, 0]))
    opens, closes_ = changes[::2], np.minimum(changes[1::2], bars - 1)
    entry, exit_ = close.to_numpy()[opens], close.to_numpy()[closes_]
    size = 0.95 * value[np.maximum(opens - 1, 0)] / entry
    pnl = size * (exit_ - entry)
    fees = commission * size * (entry + exit_)
    trades = pd.DataFrame({
        "open_datetime": close.index[opens], "close_datetime": close.index[closes_],
        "data": "BTCUSDT", "side": "long", "size": size, "entry_price": entry,
        "exit_price": exit_, "pnl": pnl, "pnl_net": pnl - fees, "commission": fees,
        "bars_held": closes_ - opens})
    training = [{"window_end": when.to_pydatetime(), "loss": list(0.02 / np.arange(1, 11)),
                 "val_loss": list(0.03 / np.arange(1, 11))} for when in close.index[::168]]
    end = close.index[-1] + pd.Timedelta(hours=1)
    report = {
        "data": {"symbol": "BTCUSDT", "interval": "1h", "start": close.index[0].isoformat(),
                 "end": end.isoformat(), "bars": bars},
        "params": {"cash": cash, "commission": commission, "slippage": 0.0, "threshold": 0.0005},
        "metrics": stats.compute_metrics(value, cash, 8760, trades=trades["pnl_net"],
                                         exposure=held > 0, **_extra(
                                             stats.compute_metrics, fees=fees.sum(),
                                             trade_entry_values=size * entry,
                                             trade_bars_held=trades["bars_held"])),
        "benchmark": stats.compute_metrics(equity["benchmark"], cash, 8760),
        "forecast": stats.forecast_skill(close.to_numpy(), predicted.to_numpy()),
        "timing": {"total_s": 0.0, "train_s": 0.0, "predict_s": 0.0, "retrains": len(training)},
    }
    return RunRecord(report=report, equity=equity, trades=trades, forecasts=forecasts,
                     training=training)


def time_pngs(record, out, repeat):
    from lstm_bt.report.plotting import plot_equity, plot_forecasts, plot_training_loss

    market = {"symbol": "BTCUSDT", "interval": "1h"}
    calls = {
        "equity.png": lambda: plot_equity(record.equity, out / "equity.png", **_extra(
            plot_equity, report=record.report, training=record.training, trades=record.trades),
            **market),
        "forecasts.png": lambda: plot_forecasts(record.forecasts, out / "forecasts.png",
                                                trades=record.trades, **_extra(
                                                    plot_forecasts, report=record.report),
                                                **market),
        "training.png": lambda: plot_training_loss(record.training, out / "training.png",
                                                   **_extra(plot_training_loss,
                                                            report=record.report), **market),
    }
    for name, call in calls.items():
        call()  # warm: fonts and caches
        wall, cpu = [], []
        for _ in range(repeat):
            began, began_cpu = time.perf_counter(), time.process_time()
            call()
            wall.append(time.perf_counter() - began)
            cpu.append(time.process_time() - began_cpu)
        size = (out / name).stat().st_size / 1024
        print(f"{name:15} wall {statistics.median(wall):6.3f} s (min {min(wall):.3f})  "
              f"CPU {statistics.median(cpu):6.3f} s (min {min(cpu):.3f})  {size:,.0f} KB")


def _extra(function, **kwargs):
    """Keyword arguments `function` accepts (the 'before' plotting API had fewer)."""
    import inspect

    accepted = inspect.signature(function).parameters
    return {key: value for key, value in kwargs.items() if key in accepted}


def plotly_report(record):
    """The same three linked charts in Plotly, written as freqtrade/vectorbt would."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from lstm_bt.report.chart_data import drawdown_pct, forecast_times

    equity, forecasts, trades = record.equity, record.forecasts, record.trades
    figure = make_subplots(rows=3, cols=1, shared_xaxes=True, row_heights=[0.4, 0.2, 0.4],
                           vertical_spacing=0.04)
    figure.add_trace(go.Scatter(x=equity.index, y=equity["value"], name="Strategy"), 1, 1)
    figure.add_trace(go.Scatter(x=equity.index, y=equity["benchmark"], name="Buy and hold"),
                     1, 1)
    figure.add_trace(go.Scatter(x=equity.index, y=-drawdown_pct(equity["value"]),
                                fill="tozeroy", name="Drawdown"), 2, 1)
    figure.add_trace(go.Scatter(x=forecasts.index, y=forecasts["close"], name="Close"), 3, 1)
    figure.add_trace(go.Scatter(x=forecast_times(forecasts.index),
                                y=forecasts["predicted_close"], name="Forecast"), 3, 1)
    colour = np.where(trades["pnl_net"] > 0, "green", "red")
    figure.add_trace(go.Scatter(x=trades["open_datetime"], y=trades["entry_price"],
                                mode="markers", marker={"symbol": "triangle-up",
                                                        "color": colour}, name="Entry"), 3, 1)
    figure.add_trace(go.Scatter(x=trades["close_datetime"], y=trades["exit_price"],
                                mode="markers", marker={"symbol": "x", "color": colour},
                                name="Exit"), 3, 1)
    figure.update_layout(height=900)
    return figure.to_html(include_plotlyjs=True, full_html=True)


def time_html(record, out, skip_plotly, skip_browser):
    from helpers.browser import find_chromium, visit

    from lstm_bt.report.html import html_report

    makers = {"bokeh": lambda: html_report(record.equity, forecasts=record.forecasts,
                                           trades=record.trades, report=record.report)}
    if not skip_plotly:
        makers["plotly"] = lambda: plotly_report(record)
    ready = {"bokeh": BOKEH_READY, "plotly": PLOTLY_READY}
    browser = None if skip_browser else find_chromium()
    for name, make in makers.items():
        make()  # warm imports
        began = time.perf_counter()
        text = make()
        path = out / f"report_{name}.html"
        path.write_text(text, encoding="utf-8")
        write_s = time.perf_counter() - began
        line = f"report.html {name:7} {path.stat().st_size / 2**20:5.2f} MB  write {write_s:5.2f} s"
        if browser:
            opens = [visit(path.as_uri(), ready[name]) for _ in range(3)]
            shown = [o.ready_s for o in opens if o.ready_s is not None]
            errors = sum(len(o.errors) for o in opens)
            line += (f"  open {statistics.median(shown):5.2f} s (median of {len(shown)}), "
                     f"console errors {errors}")
        print(line)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=9000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--skip-plotly", action="store_true")
    parser.add_argument("--skip-browser", action="store_true")
    parser.add_argument("--skip-html", action="store_true")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="bench-report-"))
    out.mkdir(parents=True, exist_ok=True)
    print(machine())
    record = synthetic_run(args.bars)
    print(f"{args.bars:,} bars, {len(record.trades):,} trades, {len(record.training)} fits; "
          f"files in {out}")
    time_pngs(record, out, args.repeat)
    if not args.skip_html:
        time_html(record, out, args.skip_plotly, args.skip_browser)


if __name__ == "__main__":
    main()
