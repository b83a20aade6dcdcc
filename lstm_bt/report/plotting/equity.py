"""Equity curve against buy and hold, with the drawdown underneath."""

import pandas as pd

from ..chart_data import by_datetime, drawdown_pct, heading, held_until, open_trades
from ._canvas import THOUSANDS, date_axis, new_figure, save, shade_spans

__all__ = ["plot_equity"]


def plot_equity(equity, path=None, *, title=None, symbol=None, interval=None, trades=None,
                training=None, report=None, log=False):
    """Draw the portfolio value against buy and hold, and both drawdowns below it.

    Bars spent in a position are shaded (a position still open at the end in its own colour),
    retrains are ticked along the bottom of the value panel, and a small box repeats the
    headline figures of `report`.

    Args:
        equity: the equity frame: `datetime` (index or column), `value`, and optionally
            `benchmark` (buy and hold), as `EquityCurve` and equity.csv hold it.
        path: where to write the PNG. Defaults to `None` (not saved).
        title: first title line. Defaults to `None`: symbol, interval and the period.
        symbol: market name for the default title, e.g. `"BTCUSDT"`. Defaults to `None`.
        interval: bar interval for the default title, e.g. `"1h"`. Defaults to `None`.
        trades: the trades frame (trades.csv): each trade's bars, open to close, are shaded.
            Defaults to `None` (no shading).
        training: the fits (`window_end` each), ticked where the model was retrained.
            Defaults to `None` (no ticks).
        report: the `report.json` dict, for the stats box, the period in the title (start to
            exclusive end, as the summary prints it) and the positions still open at the end
            (`open_trades`). Defaults to `None`.
        log: draw values on a log scale, where equal percent moves look equal. Defaults
            to `False`.

    Returns:
        The `matplotlib.figure.Figure` (on an Agg canvas; pyplot is never involved).
    """
    frame = by_datetime(equity, ["value"], "equity")
    figure = new_figure(top=0.9, hspace=0.08)
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    figure.suptitle(heading(title, symbol, interval, frame.index,
                            "Strategy equity vs buy and hold", report))

    top.plot(frame.index, frame["value"], color="tab:blue", lw=1.3, label="Strategy")
    bottom.fill_between(frame.index, -drawdown_pct(frame["value"]), 0, color="tab:red",
                        alpha=0.35, lw=0, label="Strategy")
    if "benchmark" in frame:
        top.plot(frame.index, frame["benchmark"], color="0.45", lw=0.9, label="Buy and hold")
        bottom.plot(frame.index, -drawdown_pct(frame["benchmark"]), color="0.45", lw=0.8,
                    label="Buy and hold")
    if trades is not None and len(trades):
        trades = pd.DataFrame(trades)
        shade_spans(top, trades["open_datetime"], trades["close_datetime"], color="tab:green",
                    alpha=0.15, label="In a position")
    still_open = open_trades(report)
    if len(still_open):
        shade_spans(top, still_open["open_datetime"],
                    [held_until(report, frame.index)] * len(still_open), color="tab:olive",
                    alpha=0.25, label="In a position, still open at the end")
    if training:
        ends = pd.DatetimeIndex([fit["window_end"] for fit in training])
        top.vlines(ends, 0, 0.025, color="tab:purple", lw=0.8,
                   transform=top.get_xaxis_transform(), label=f"Retrain ({len(ends)})")
    if log:
        top.set_yscale("log")
    top.set_ylabel("Portfolio value (quote currency" + (", log scale)" if log else ")"))
    top.yaxis.set_major_formatter(THOUSANDS)
    top.legend(loc="upper left", fontsize="small")
    top.grid(alpha=0.3)
    if report and report.get("metrics"):
        top.text(0.995, 0.02, _stats_box(report), transform=top.transAxes, ha="right",
                 va="bottom", fontsize="small", family="monospace",
                 bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.85, "lw": 0.5})
    bottom.set_ylabel("Drawdown (%)")
    bottom.set_xlabel("Date (UTC)")
    bottom.legend(loc="lower left", fontsize="small")
    bottom.grid(alpha=0.3)
    date_axis(bottom)
    save(figure, path)
    return figure


def _stats_box(report):
    from ..table import format_number

    metrics, hold = report["metrics"], report.get("benchmark", {})
    rows = (("return %", "total_return_pct", 1), ("Sharpe", "sharpe", 2),
            ("max DD %", "max_drawdown_pct", 1))
    lines = [f"{'':9}{'strategy':>9}{'B&H':>9}"]
    lines += [f"{label:9}{format_number(metrics.get(key), digits):>9}"
              f"{format_number(hold.get(key), digits):>9}" for label, key, digits in rows]
    lines.append(f"trades {format_number(metrics.get('trades'), 0)}, "
                 f"fees {format_number(metrics.get('fees_pct'), 1)} % of cash")
    return "\n".join(lines)
