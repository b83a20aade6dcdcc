"""report.html: one self-contained, interactive page of a backtest (Bokeh, no network needed).

Linked, zoomable charts of equity vs buy and hold, drawdown, and price with the trades and the
forecasts; then the metrics, what was run (data source and every param), every trade (one
still open at the end marked open) and the monthly returns. Bokeh's JavaScript is written
into the page (no CDN), so the file opens offline and can be mailed or archived on its own.

`write_html_report` takes frames, not a run directory, so a sweep can write one per cell or
config from what it holds in memory.
"""

import html
from pathlib import Path

import numpy as np
import pandas as pd

from .chart_data import (by_datetime, drawdown_pct, forecast_times, heading, held_until,
                         net_pnl, open_trades)
from .table import (FORECAST_ROWS, format_number, metric_cells, monthly_returns_frame,
                    naive_rule_verdict, run_description, short_window_warning, start_value,
                    zero_trade_reason)

__all__ = ["write_html_report", "html_report", "standalone_page"]

_STRATEGY, _HOLD, _FORECAST = "#1f77b4", "#7f7f7f", "#ff7f0e"
_WIN, _LOSS, _OPEN = "#2ca02c", "#d62728", "#bcbd22"
_TOOLS = "xpan,xwheel_zoom,box_zoom,reset,save"


def write_html_report(path, equity, *, forecasts=None, trades=None, report=None, title=None):
    """Write `html_report(...)` to `path` (UTF-8) and return the path.

    Args:
        path: the file to write, e.g. `runs/x/report.html`; its folder must exist.
        equity, forecasts, trades, report, title: see `html_report`.
    """
    path = Path(path)
    path.write_text(html_report(equity, forecasts=forecasts, trades=trades, report=report,
                                title=title), encoding="utf-8")
    return path


def html_report(equity, *, forecasts=None, trades=None, report=None, title=None):
    """The page as a string.

    Args:
        equity: DataFrame indexed by datetime with `value` and optionally `benchmark`
            (equity.csv).
        forecasts: DataFrame indexed by datetime with `close` and `predicted_close`
            (forecasts.csv). Defaults to `None`: no price chart.
        trades: DataFrame of closed trades (trades.csv). Defaults to `None`: no trade marks.
        report: the `report.json` dict, for the metrics, what was run, the positions still
            open at the end, the starting cash and the title. Defaults to `None`: no metrics
            or run table; W_0 is the first value.
        title: page title. Defaults to `None`: symbol, interval and period from `report`.

    Returns:
        HTML text with Bokeh's JavaScript inline.
    """
    from bokeh.layouts import column

    equity = by_datetime(equity, ["value"], "equity")
    report = report or {}
    title = title or heading(None, *_market(report), equity.index, "", report).strip()
    trades = None if trades is None else pd.DataFrame(trades)
    still_open = open_trades(report)
    figures = _equity_figures(equity)
    if forecasts is not None and len(forecasts):
        forecasts = by_datetime(forecasts, ["close", "predicted_close"], "forecasts")
        figures.append(_price_figure(forecasts, trades, figures[0].x_range))
        _draw_open(figures[-1], still_open, held_until(report, forecasts.index))
    tables = (_metrics_html(report, forecasts) + _run_html(report)
              + _trades_html(trades, still_open)
              + _monthly_html(monthly_returns_frame(equity, start_value(report, equity))))
    return standalone_page(title, [column(*figures, sizing_mode="stretch_width"), tables])


def standalone_page(title, parts, style=""):
    """A self-contained HTML page: BokehJS written into it, so it opens offline.

    Args:
        title: the page's title and heading (plain text, escaped here).
        parts: the body in order: HTML strings (inserted as they are) and Bokeh models
            (each becomes its own element).
        style: CSS added after the page's own. Defaults to `""`.

    Returns:
        HTML text.
    """
    from bokeh.embed import components
    from bokeh.model import Model
    from bokeh.resources import Resources

    models = [part for part in parts if isinstance(part, Model)]
    script, divs = components(models) if models else ("", ())
    divs = iter(divs)
    body = "\n".join(next(divs) if isinstance(part, Model) else part for part in parts)
    # Only BokehJS's core: the widgets, tables, WebGL and MathJax bundles would add 2.7 MB.
    resources = Resources(mode="inline", components=["bokeh"]).render() if models else ""
    return _PAGE.format(title=html.escape(title), resources=resources, script=script,
                        style=style, body=body)


def _equity_figures(equity):
    from bokeh.models import ColumnDataSource, HoverTool, NumeralTickFormatter
    from bokeh.plotting import figure

    data = {"datetime": equity.index, "value": equity["value"].to_numpy(float),
            "value_dd": -drawdown_pct(equity["value"])}
    has_hold = "benchmark" in equity
    if has_hold:
        data["benchmark"] = equity["benchmark"].to_numpy(float)
        data["benchmark_dd"] = -drawdown_pct(equity["benchmark"])
    source = ColumnDataSource(data)
    top = figure(height=330, x_axis_type="datetime", tools=_TOOLS, active_scroll="xwheel_zoom",
                 title="Equity vs buy and hold (quote currency); scroll to zoom, drag to pan",
                 sizing_mode="stretch_width")
    strategy = top.line("datetime", "value", source=source, color=_STRATEGY, line_width=1.6,
                        legend_label="Strategy")
    if has_hold:
        top.line("datetime", "benchmark", source=source, color=_HOLD, line_width=1.2,
                 legend_label="Buy and hold")
    top.add_tools(HoverTool(renderers=[strategy], mode="vline", formatters={
        "@datetime": "datetime"}, tooltips=[("time", "@datetime{%F %H:%M}"),
                                            ("strategy", "@value{0,0.00}")]
        + ([("buy and hold", "@benchmark{0,0.00}")] if has_hold else [])))
    top.yaxis.formatter = NumeralTickFormatter(format="0,0")
    top.legend.location = "top_left"
    bottom = figure(height=170, x_axis_type="datetime", x_range=top.x_range, tools=_TOOLS,
                    active_scroll="xwheel_zoom", title="Drawdown (%)",
                    sizing_mode="stretch_width")
    bottom.varea("datetime", y1="value_dd", y2=0, source=source, color=_LOSS, alpha=0.35,
                 legend_label="Strategy")
    if has_hold:
        bottom.line("datetime", "benchmark_dd", source=source, color=_HOLD,
                    legend_label="Buy and hold")
    bottom.legend.location = "bottom_left"
    return [top, bottom]


def _price_figure(forecasts, trades, x_range):
    from bokeh.models import ColumnDataSource, HoverTool, NumeralTickFormatter
    from bokeh.plotting import figure

    price = figure(height=360, x_axis_type="datetime", x_range=x_range, tools=_TOOLS,
                   active_scroll="xwheel_zoom", sizing_mode="stretch_width",
                   title="Close, one-bar-ahead forecast (drawn at the bar it predicts) and "
                         "trades (green: won, red: lost)")
    price.line(forecasts.index, forecasts["close"].to_numpy(float), color="#333333",
               legend_label="Close")
    price.line(forecast_times(forecasts.index), forecasts["predicted_close"].to_numpy(float),
               color=_FORECAST, alpha=0.8, legend_label="Forecast")
    if trades is not None and len(trades):
        pnl = net_pnl(trades)
        won = pnl > 0
        colour = np.where(won, _WIN, _LOSS)
        long = trades["side"].eq("long").to_numpy()
        common = {"colour": colour, "pnl": pnl,
                  "side": trades["side"].to_numpy(str)}
        entries = ColumnDataSource({"t": pd.DatetimeIndex(trades["open_datetime"]),
                                    "price": trades["entry_price"].to_numpy(float),
                                    "angle": np.where(long, 0.0, np.pi), **common})
        exits = ColumnDataSource({"t": pd.DatetimeIndex(trades["close_datetime"]),
                                  "price": trades["exit_price"].to_numpy(float), **common})
        opened = price.scatter("t", "price", source=entries, marker="triangle", angle="angle",
                               size=9, color="colour", alpha=0.8, legend_label="Entry")
        closed = price.scatter("t", "price", source=exits, marker="x", size=8, color="colour",
                               line_width=2, legend_label="Exit")
        price.add_tools(HoverTool(renderers=[opened, closed], formatters={"@t": "datetime"},
                                  tooltips=[("time", "@t{%F %H:%M}"), ("side", "@side"),
                                            ("price", "@price{0,0.00}"),
                                            ("net P&L", "@pnl{0,0.00}")]))
    price.yaxis.formatter = NumeralTickFormatter(format="0,0")
    price.legend.location = "top_left"
    price.legend.click_policy = "hide"
    return price


def _draw_open(price, still_open, end):
    """Shade each position still open at the end, from its entry to `end`, and mark its
    entry."""
    from bokeh.models import BoxAnnotation

    if not len(still_open):
        return
    for opened in still_open["open_datetime"]:
        price.add_layout(BoxAnnotation(left=opened, right=end, fill_color=_OPEN,
                                       fill_alpha=0.2))
    price.scatter(still_open["open_datetime"], still_open["entry_price"].to_numpy(float),
                  marker="circle", size=10, color=_OPEN, line_color="black",
                  legend_label="Entry, still open at the end (shaded)")


def _metrics_html(report, forecasts):
    if not report.get("metrics"):
        return ""
    warning = short_window_warning(report)
    rows = "".join(
        f"<tr><th>{html.escape(label)}{' *' if annualized and warning else ''}</th>"
        f"<td>{ours}</td><td>{hold}</td></tr>"
        for label, ours, hold, annualized in metric_cells(report))
    forecast = report.get("forecast", {})
    skill = "".join(f"<tr><th>{html.escape(label)}</th>"
                    f"<td colspan=2>{format_number(forecast.get(key), digits)}</td></tr>"
                    for key, label, digits in FORECAST_ROWS)
    notes = [warning, zero_trade_reason(report, forecasts),
             naive_rule_verdict(forecast) if forecast.get("n") else None]
    notes_html = "".join(f"<p class=note>{html.escape(note)}</p>" for note in notes if note)
    return (f"<h2>Metrics</h2><table class=metrics><tr><th></th><th>Strategy</th>"
            f"<th>Buy and hold</th></tr>{rows}{skill}</table>{notes_html}")


def _run_html(report):
    if not report.get("params") and not report.get("data"):
        return ""
    rows = "".join(f"<tr><th>{html.escape(name)}</th><td>{html.escape(value)}</td></tr>"
                   for name, value in run_description(report))
    return f"<h2>What was run</h2><table class=run>{rows}</table>"


_TRADE_HEAD = ("#", "status", "side", "opened (UTC)", "closed (UTC)", "size", "entry price",
               "exit price", "net P&L", "net return [%]", "bars held")


def _trades_html(trades, still_open):
    """Every closed trade, then each position still open at the end (its exit price is the
    last close it is marked at)."""
    rows = [] if trades is None else [(row, "closed") for row in trades.to_dict("records")]
    rows += [(row, "open") for row in still_open.to_dict("records")]
    if not rows:
        return "<h2>Trades</h2><p>No trade.</p>"
    head = "".join(f"<th>{html.escape(name)}</th>" for name in _TRADE_HEAD)
    body = "".join(_trade_row(number, row, status)
                   for number, (row, status) in enumerate(rows, start=1))
    table = f"<h2>Trades</h2><table class=trades><tr>{head}</tr>{body}</table>"
    if len(still_open):
        table += "<p>An open position's exit price is the last close, its P&amp;L marked to it.</p>"
    return table


def _trade_row(number, row, status):
    net = row.get("pnl_net", row.get("pnl"))
    value = (row.get("entry_price") or 0.0) * (row.get("size") or 0.0)
    exit_price = row.get("mark_price") if status == "open" else row.get("exit_price")
    cells = (number, status, row.get("side"), _when(row.get("open_datetime")),
             _when(row.get("close_datetime")) if status == "closed" else "open",
             format_number(row.get("size"), 6), format_number(row.get("entry_price"), 2),
             format_number(exit_price, 2), format_number(net, 2),
             format_number(100.0 * net / value if value and net is not None else None, 2),
             format_number(row.get("bars_held"), 0))
    return f"<tr class={status}>" + "".join(f"<td>{html.escape(str(cell))}</td>"
                                            for cell in cells) + "</tr>"


def _when(value):
    return "n/a" if value is None or value is pd.NaT else f"{pd.Timestamp(value):%Y-%m-%d %H:%M}"


def _monthly_html(table):
    if not len(table):
        return ""
    parts = ["<h2>Monthly returns (%)</h2>"]
    for column, name in (("strategy_pct", "Strategy"), ("buy_and_hold_pct", "Buy and hold")):
        if column not in table:
            continue
        grid = table.pivot(index="year", columns="month", values=column)
        head = "".join(f"<th>{pd.Timestamp(2000, m, 1):%b}</th>" for m in range(1, 13))
        body = "".join(
            f"<tr><th>{year}</th>"
            + "".join(_month_cell(grid.loc[year].get(m)) for m in range(1, 13)) + "</tr>"
            for year in grid.index)
        parts.append(f"<h3>{name}</h3><table class=monthly><tr><th></th>{head}</tr>{body}"
                     "</table>")
    return "".join(parts)


def _month_cell(value):
    if value is None or not np.isfinite(value):
        return "<td></td>"
    strength = min(abs(value) / 20.0, 1.0) * 0.6
    rgb = "44,160,44" if value >= 0 else "214,39,40"
    return f'<td style="background:rgba({rgb},{strength:.2f})">{value:.1f}</td>'


def _market(report):
    data = report.get("data", {})
    return data.get("symbol"), data.get("interval")


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; }}
th, td {{ border: 1px solid #ddd; padding: 0.2em 0.6em; }}
td {{ text-align: right; font-variant-numeric: tabular-nums; }}
table.metrics th {{ text-align: left; font-weight: normal; }}
.note {{ color: #8a4b00; }}
table.run th {{ text-align: left; font-weight: normal; }}
table.run td {{ text-align: left; font-family: monospace; }}
tr.open {{ background: #f4f4c8; }}
{style}
</style>
{resources}
{script}
</head>
<body>
<h1>{title}</h1>
{body}
</body>
</html>
"""
