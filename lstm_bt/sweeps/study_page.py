"""report.html of a sweep: one self-contained page that answers "does it hold?".

From the top: the verdict and its warnings; PSR, DSR and PBO with what each means; the best
config cell by cell against buy and hold and the better naive rule; the breakdown by symbol
and period (does it only follow the market?); the Sharpe distributions; the heatmaps; every
config. Charts are Bokeh (`report.html.standalone_page`, JavaScript inline); tables are HTML.
"""

import html
import itertools

import numpy as np
import pandas as pd

from ..report.html import standalone_page
from .breakdown import best_config_cells
from .counting import counted_sharpe, finished
from .report import params_text
from .spec import spec_to_toml
from .verdict import DSR_LEVEL, PBO_LEVEL

__all__ = ["write_study_page", "study_page"]

_STYLE = """
.verdict { font-size: 1.15em; padding: 0.6em 0.9em; border-left: 6px solid; margin: 1em 0; }
.verdict.yes { border-color: #2ca02c; background: #eef8ee; }
.verdict.no { border-color: #d62728; background: #fbeeee; }
ul.warnings li { color: #8a4b00; margin: 0.2em 0; }
table.grid td.best, table.grid th.best { font-weight: bold; }
td.text, th.text { text-align: left; }
p.explain { max-width: 60em; color: #444; }
.nowrap { white-space: nowrap; }
pre { background: #f6f6f6; padding: 0.6em; }
"""


def write_study_page(path, spec, cells, configs, breakdown, summary):
    """Write `study_page(...)` to `path` (UTF-8) and return the path."""
    path.write_text(study_page(spec, cells, configs, breakdown, summary), encoding="utf-8")
    return path


def study_page(spec, cells, configs, breakdown, summary):
    """The page as a string.

    Args:
        spec: the `SweepSpec` (its swept params and periods).
        cells, configs, breakdown: the cells, configs and breakdown DataFrames.
        summary: summary.json as a dict.
    """
    swept = spec.swept
    names = {int(row["config"]): params_text(row, swept) for _, row in configs.iterrows()}
    best = summary["best"]
    parts = [_verdict_html(summary), _figures_html(summary)]
    if best is not None:
        mine = best_config_cells(cells, best["config"])
        parts += [f"<h2>The best config, cell by cell: #{best['config']} "
                  f"({html.escape(names[best['config']])})</h2>", _best_summary_html(mine),
                  _best_cells_html(mine)]
        if len(mine):
            parts.append(_return_scatter(mine))
    parts += ["<h2>By symbol and period: does it only follow the market?</h2>",
              _breakdown_html(breakdown, names, best)]
    parts += ["<h2>Sharpe ratio of every cell, per config</h2>",
              _sharpe_figure(cells, names),
              "<p class=explain>One point per cell (symbol, period, seed); the bar is the "
              "median. A cell without a trade is drawn and counted at 0.</p>"]
    parts += _heatmaps_html(cells, swept)
    parts += ["<h2>Every config</h2>", _configs_html(configs, names, best),
              "<h2>What was run</h2><p class=explain>The spec (spec.toml); a param it leaves "
              "out takes its default.</p>"
              f"<pre>{html.escape(spec_to_toml(spec.source))}</pre>"]
    symbols = ", ".join(dict.fromkeys(cells["symbol"].astype(str)))
    title = (f"Study: {symbols} {spec.interval}, {len(spec.periods)} period"
             f"{'s' * (len(spec.periods) != 1)}, {summary['n_configs']} configs, "
             f"{summary['n_cells']} cells")
    return standalone_page(title, parts, style=_STYLE)


def _verdict_html(summary):
    kind = "yes" if summary["significant"] else "no"
    warnings = "".join(f"<li>{html.escape(w)}</li>" for w in summary["warnings"])
    return (f"<div class='verdict {kind}'>{html.escape(summary['verdict'])}</div>"
            + (f"<ul class=warnings>{warnings}</ul>" if warnings else ""))


def _figures_html(summary):
    n, effective = summary["n_configs"], summary["n_trials_effective"]
    rows = [
        ("PSR", summary["psr"], "The probability that the best config's true Sharpe ratio is "
         "above zero, from its pooled returns, their length, skewness and kurtosis; it ignores "
         "that it was picked as the best of many."),
        ("DSR", summary["dsr"], f"The same probability against the Sharpe ratio the best of {n} "
         f"configs without any skill would show: {DSR_LEVEL} or more says the best config is "
         "not explained by the number of configs tried."),
        ("Effective trials", effective, "How many distinct configs the study tried: configs "
         "with identical returns count once, correlated ones partly (Σᵢ 1 / Σⱼ ρᵢⱼ², ρ the "
         "correlation of two configs' returns, clipped at 0)."),
        ("DSR (effective trials)", summary["dsr_effective"], "DSR with the effective number "
         "of trials instead of the number of configs. The two bracket the answer: DSR counts "
         "every config as a trial (strict where configs trade alike); this one counts distinct "
         "trials but keeps the spread of all configs' Sharpe ratios, which their correlation "
         "has already narrowed (lenient)."),
        ("PBO", summary["pbo"], "The probability of backtest overfitting: over the ways to split "
         "the pooled returns into two halves, how often the config best in one half ranks at "
         f"or below the median in the other. Under {PBO_LEVEL} says picking the best carries "
         "over to unseen data."),
    ]
    body = "".join(f"<tr><th class=text>{name}</th><td>{_num(value, 3)}</td>"
                   f"<td class=text>{html.escape(text)}</td></tr>" for name, value, text in rows)
    return (f"<h2>What the statistics say</h2><table class=metrics><tr><th></th><th>value</th>"
            f"<th class=text>what it means</th></tr>{body}</table>"
            "<p class=explain>Significant means DSR ≥ 0.95 and PBO &lt; 0.5 together. Sharpe "
            "ratios in tables are annualized; cells without a trade count as Sharpe 0.</p>")


def _best_summary_html(mine):
    if not len(mine):
        return ""
    n = len(mine)
    return (f"<p class=explain>The config with the highest median Sharpe beat buy and hold in "
            f"{int(mine['beats_bh'].sum())} of {n} cells by Sharpe and "
            f"{int(mine['beats_bh_return'].sum())} by return; a naive rule (repeat or reverse "
            f"the last move) called the next move more often than its model in "
            f"{int(mine['naive_beats_model'].sum())}; it made no trade in "
            f"{int(mine['no_trade'].sum())}.</p>")


def _best_cells_html(mine):
    head = ("<tr><th>symbol</th><th>period</th><th>seed</th><th>return [%]</th>"
            "<th>buy and hold return [%]</th><th>Sharpe</th><th>buy and hold Sharpe</th>"
            "<th>trades</th><th>hit rate</th><th>best naive hit rate</th>"
            "<th>beats buy and hold</th><th>naive rule beats model</th></tr>")
    rows = []
    for _, cell in mine.iterrows():
        note = " (no trade)" if cell["no_trade"] else ""
        rows.append(
            f"<tr><td class=text>{html.escape(str(cell['symbol']))}</td>"
            f"<td class=text>{_period(cell['period_start'], cell['period_end'])}</td>"
            f"<td>{cell['seed']}</td>{_coloured(cell['return'], 2, 20)}"
            f"{_coloured(cell['bh_return'], 2, 20)}{_coloured(cell['sharpe'], 2, 3, note)}"
            f"{_coloured(cell['bh_sharpe'], 2, 3)}<td>{_num(cell['trades'], 0)}</td>"
            f"<td>{_num(cell['hit_rate'], 3)}</td><td>{_num(cell['naive_hit_rate'], 3)}</td>"
            f"<td class=text>{_yes(cell['beats_bh'])} by Sharpe, "
            f"{_yes(cell['beats_bh_return'])} by return</td>"
            f"<td class=text>{_yes(cell['naive_beats_model'])}</td></tr>")
    if not rows:
        return "<p>No finished cell.</p>"
    return f"<table class=grid>{head}{''.join(rows)}</table>"


def _breakdown_html(breakdown, names, best):
    if not len(breakdown):
        return "<p>No finished cell.</p>"
    places = list(dict.fromkeys(zip(breakdown["symbol"], breakdown["period_start"],
                                    breakdown["period_end"])))
    head = "".join(f"<th>{html.escape(str(s))}<br>{_period(a, b)}</th>" for s, a, b in places)
    hold = {}
    for _, row in breakdown.iterrows():
        hold.setdefault((row["symbol"], row["period_start"], row["period_end"]),
                        row["bh_return"])
    hold_row = "".join(_coloured(hold[place], 1, 20, " %") for place in places)
    rows = []
    for number, group in breakdown.groupby("config", sort=False):
        by_place = {(r["symbol"], r["period_start"], r["period_end"]): r
                    for _, r in group.iterrows()}
        mark = "text best" if best and number == best["config"] else "text"
        tds = "".join(
            _coloured(by_place[p]["return_median"], 1, 20,
                      f" % (Sharpe {_num(by_place[p]['sharpe_median'], 2)})")
            for p in places)
        rows.append(f"<tr><th class='{mark}'>#{number} "
                    f"{html.escape(names[number])}</th>{tds}</tr>")
    return ("<p class=explain>Median return (and median Sharpe) of each config over its "
            "seeds, beside buy and hold's return in the same symbol and period. A config that "
            "gains where buy and hold gains and loses where it loses follows the market.</p>"
            f"<table class=grid><tr><th></th>{head}</tr><tr><th class=text>buy and hold</th>"
            f"{hold_row}</tr>{''.join(rows)}</table>")


def _heatmaps_html(cells, swept):
    ok = cells[finished(cells)].assign(counted=counted_sharpe(cells))
    parts = []
    for a, b in itertools.combinations(swept, 2):
        values = ok.assign(**{a: ok[a].astype(str), b: ok[b].astype(str)})
        grid = values.pivot_table(index=a, columns=b, values="counted", aggfunc="median",
                                  dropna=False, sort=False)
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in grid.columns)
        body = "".join(f"<tr><th>{html.escape(str(index))}</th>"
                       + "".join(_coloured(v, 2, 3) for v in grid.loc[index]) + "</tr>"
                       for index in grid.index)
        parts.append(f"<h3>Median Sharpe by {html.escape(a)} (rows) and {html.escape(b)} "
                     f"(columns)</h3><table class=grid><tr><th></th>{head}</tr>{body}</table>")
    if parts:
        parts.insert(0, "<h2>Heatmaps: median Sharpe over symbols, periods and seeds</h2>")
    return parts


def _configs_html(configs, names, best):
    columns = (("cells", "cells", 0), ("failed", "failed", 0),
               ("sharpe_median", "median Sharpe", 2), ("sharpe_q25", "Sharpe q25", 2),
               ("sharpe_q75", "Sharpe q75", 2), ("beat_bh_share", "beats buy and hold "
               "(Sharpe)", "%"), ("beat_bh_return_share", "beats buy and hold (return)", "%"),
               ("no_trade_share", "no trade", "%"), ("significant_share", "hit rate p &lt; 0.05",
                                                     "%"), ("psr", "PSR", 3), ("dsr", "DSR", 3))
    head = "".join(f"<th>{header}</th>" for _, header, _ in columns)
    rows = "".join(
        f"<tr><th class=text>#{int(row['config'])} {html.escape(names[int(row['config'])])}"
        f"{' (best)' if best and int(row['config']) == best['config'] else ''}</th>"
        + "".join(f"<td>{_pct(row[key]) if digits == '%' else _num(row[key], digits)}</td>"
                  for key, _, digits in columns) + "</tr>"
        for _, row in configs.iterrows())
    return f"<table class=grid><tr><th></th>{head}</tr>{rows}</table>"


def _return_scatter(mine):
    from bokeh.models import ColumnDataSource, HoverTool, Slope
    from bokeh.plotting import figure

    plot = figure(height=360, sizing_mode="stretch_width", tools="pan,wheel_zoom,reset,save",
                  title="Each cell of the best config: its return against buy and hold's "
                        "(on the diagonal: the same return)",
                  x_axis_label="buy and hold return [%]", y_axis_label="best config return [%]")
    palette = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2")
    for symbol, colour in zip(dict.fromkeys(mine["symbol"]), itertools.cycle(palette)):
        rows = mine[mine["symbol"] == symbol]
        source = ColumnDataSource({"x": rows["bh_return"], "y": rows["return"],
                                   "period": [f"{a} to {b}" for a, b in
                                              zip(rows["period_start"], rows["period_end"])],
                                   "seed": rows["seed"]})
        points = plot.scatter("x", "y", source=source, size=8, color=colour, alpha=0.8,
                              legend_label=str(symbol))
        plot.add_tools(HoverTool(renderers=[points], tooltips=[
            ("symbol", str(symbol)), ("period", "@period"), ("seed", "@seed"),
            ("return", "@y{0.00} %"), ("buy and hold", "@x{0.00} %")]))
    plot.add_layout(Slope(gradient=1, y_intercept=0, line_color="#7f7f7f", line_dash="dashed"))
    plot.add_layout(plot.legend[0], "right")
    return plot


def _sharpe_figure(cells, names):
    from bokeh.models import ColumnDataSource, HoverTool
    from bokeh.plotting import figure

    ok = cells[finished(cells)]
    sharpe = counted_sharpe(cells)[ok.index]
    order = list(names)
    x = np.array([order.index(int(c)) for c in ok["config"]], dtype=float)
    jitter = (ok.groupby("config").cumcount().to_numpy() % 7 - 3) * 0.05
    source = ColumnDataSource({
        "x": x + jitter, "sharpe": sharpe.to_numpy(float),
        "config": [f"#{int(c)} {names[int(c)]}" for c in ok["config"]],
        "where": [f"{s} {a} to {b} seed {seed}" for s, a, b, seed in
                  zip(ok["symbol"], ok["period_start"], ok["period_end"], ok["seed"])]})
    hold = ok.drop_duplicates(["symbol", "period_start", "period_end"])
    plot = figure(height=380, sizing_mode="stretch_width", tools="pan,wheel_zoom,reset,save",
                  title="Sharpe ratio (annualized) of each cell; the last column is buy and hold",
                  y_axis_label="Sharpe (annualized)")
    points = plot.scatter("x", "sharpe", source=source, size=6, alpha=0.6, color="#1f77b4")
    medians = [float(np.nanmedian(sharpe[ok["config"] == c])) if (ok["config"] == c).any()
               else np.nan for c in order]
    plot.scatter(list(range(len(order))), medians, marker="dash", size=24, line_width=3,
                 color="#d62728", legend_label="median")
    plot.scatter([len(order)] * len(hold), pd.to_numeric(hold["bh_sharpe"], errors="coerce"),
                 size=7, color="#7f7f7f", legend_label="buy and hold")
    plot.add_tools(HoverTool(renderers=[points], tooltips=[
        ("config", "@config"), ("cell", "@where"), ("Sharpe", "@sharpe{0.00}")]))
    plot.xaxis.ticker = list(range(len(order) + 1))
    plot.xaxis.major_label_overrides = {i: f"#{c}" for i, c in enumerate(order)} | {
        len(order): "B&H"}
    plot.add_layout(plot.legend[0], "right")
    return plot


def _period(start, end):
    return (f"<span class=nowrap>{html.escape(str(start))}</span> to "
            f"<span class=nowrap>{html.escape(str(end))}</span>")


def _num(value, digits):
    if value is None or not np.isfinite(float(value)):
        return "n/a"
    return f"{float(value):,.{digits}f}"


def _coloured(value, digits, full_scale, suffix=""):
    """A table cell shaded green above 0 and red below, full colour at `full_scale`."""
    if value is None or not np.isfinite(float(value)):
        return "<td>n/a</td>"
    strength = min(abs(float(value)) / full_scale, 1.0) * 0.6
    rgb = "44,160,44" if value >= 0 else "214,39,40"
    return (f'<td style="background:rgba({rgb},{strength:.2f})">'
            f"{_num(value, digits)}{html.escape(suffix)}</td>")


def _pct(value):
    return "n/a" if value is None or not np.isfinite(float(value)) else f"{100 * value:.0f} %"


def _yes(flag):
    return "yes" if flag else "no"
