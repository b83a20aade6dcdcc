"""The sweep's PNGs: median Sharpe heatmaps per pair of swept params, and Sharpe per config.

Configs are named by number on the axis (`#3`) and spelt out in a legend under the plot, so
a label never runs off the picture however many configs or params there are; sizes grow
with the labels. Cells are counted as `counting` says (no trade: Sharpe 0). Drawn on
standalone Agg figures (`report.plotting._canvas`), never through pyplot.
"""

import itertools
import math

import numpy as np

from .counting import counted_sharpe, finished, numbers
from .report import params_text

__all__ = ["draw", "heatmap", "sharpe_distribution"]

# Inches a character takes at the font sizes used here (a generous average).
_CHAR_IN = {8: 0.075, 9: 0.082, 10: 0.09}
_LINE_IN = 0.19


def draw(path, spec, cells, configs):
    """Write `heatmap_<a>__<b>.png` for each pair of swept params, and `sharpe.png`."""
    for a, b in itertools.combinations(spec.swept, 2):
        heatmap(cells, a, b, path / f"heatmap_{a}__{b}.png")
    sharpe_distribution(cells, configs, spec.swept, path / "sharpe.png")


def heatmap(cells, a, b, path):
    """Median Sharpe of the finished cells for each (a, b) pair of values.

    Args:
        cells: the cells DataFrame (cells.csv).
        a, b: the swept params on the rows and the columns.
        path: the PNG to write, or None.

    Returns:
        The matplotlib `Figure`.
    """
    from ..report.plotting._canvas import new_figure, save

    ok = cells[finished(cells)]
    values = ok.assign(counted=counted_sharpe(cells)[ok.index],
                       **{a: ok[a].astype(str), b: ok[b].astype(str)})
    table = values.pivot_table(index=a, columns=b, values="counted", aggfunc="median",
                               dropna=False, sort=False)
    rows, columns = max(1, table.shape[0]), max(1, table.shape[1])
    row_text = max([len(str(v)) for v in table.index] + [1]) * _CHAR_IN[9]
    column_text = max([len(str(v)) for v in table.columns] + [1]) * _CHAR_IN[9]
    cell_width = max(0.9, column_text + 0.2)
    title = "Median Sharpe (annualized) over symbols, periods and seeds"
    width = max(0.9 + row_text + cell_width * columns + 1.3, len(title) * _CHAR_IN[10] + 0.4)
    height = 1.5 + 0.55 * rows
    figure = new_figure(width, height)
    figure.set_layout_engine("constrained")
    axis = figure.add_subplot()
    grid = table.to_numpy(dtype=float) if table.size else np.full((1, 1), np.nan)
    finite = grid[np.isfinite(grid)]
    limit = float(np.max(np.abs(finite))) if finite.size else 1.0
    image = axis.imshow(grid, cmap="RdYlGn", vmin=-limit or -1, vmax=limit or 1, aspect="auto")
    axis.set_xticks(range(table.shape[1]), table.columns, fontsize=9)
    axis.set_yticks(range(table.shape[0]), table.index, fontsize=9)
    axis.set_xlabel(b)
    axis.set_ylabel(a)
    for (row, column), value in np.ndenumerate(grid):
        axis.text(column, row, "n/a" if not np.isfinite(value) else f"{value:.2f}",
                  ha="center", va="center", fontsize=9)
    axis.set_title(title, fontsize=10)
    figure.colorbar(image, ax=axis, label="Sharpe")
    save(figure, path)
    return figure


def sharpe_distribution(cells, configs, swept, path):
    """Box and points of each config's cell Sharpe ratios, beside buy and hold's.

    Args:
        cells: the cells DataFrame (cells.csv).
        configs: the configs DataFrame (configs.csv), for each config's params.
        swept: the swept params' names, for the legend.
        path: the PNG to write, or None.

    Returns:
        The matplotlib `Figure`.
    """
    from ..report.plotting._canvas import new_figure, save

    ok = cells[finished(cells)]
    sharpe = counted_sharpe(cells)[ok.index]
    numbers_ = [int(n) for n in configs["config"]]
    samples = [sharpe[ok["config"] == n].dropna().to_numpy() for n in numbers_]
    hold = ok.drop_duplicates(["symbol", "period_start", "period_end"])
    samples.append(numbers(hold, "bh_sharpe").dropna().to_numpy())
    legend = [f"#{n}  {params_text(configs.iloc[i], swept)}" for i, n in enumerate(numbers_)]
    title = ("Sharpe per config over symbols, periods and seeds\n"
             "(a cell without a trade counted as 0; B&H: buy and hold)")
    plot_width = 1.4 + 0.32 * len(samples)
    column_width = max(len(line) for line in legend) * _CHAR_IN[8] + 0.35
    title_width = max(len(line) for line in title.split("\n")) * _CHAR_IN[10] + 1.2
    width = max(6.0, plot_width, column_width + 0.4, title_width)
    per_row = max(1, int((width - 0.4) // column_width))
    legend_rows = math.ceil(len(legend) / per_row)
    legend_height = 0.35 + legend_rows * _LINE_IN
    plot_height = 4.2
    height = plot_height + legend_height
    figure = new_figure(width, height, top=1 - 0.6 / height,
                        bottom=(legend_height + 0.55) / height, right=1 - 0.25 / width)
    axis = figure.add_subplot()
    positions = list(range(1, len(samples) + 1))
    axis.boxplot([s if s.size else [np.nan] for s in samples], positions=positions,
                 widths=0.6, showfliers=False)
    for x, sample in zip(positions, samples):
        jitter = np.linspace(-0.12, 0.12, sample.size) if sample.size > 1 else np.zeros(sample.size)
        axis.plot(x + jitter, sample, "o", markersize=3, alpha=0.6,
                  color="tab:gray" if x == positions[-1] else "tab:blue")
    axis.axhline(0.0, color="black", linewidth=0.8)
    axis.set_xticks(positions, [f"#{n}" for n in numbers_] + ["B&H"], fontsize=8,
                    rotation=90 if len(samples) > 16 else 0)
    axis.set_xlim(0.4, len(samples) + 0.6)
    axis.set_ylabel("Sharpe (annualized), one point per cell", fontsize=9)
    axis.set_title(title, fontsize=10)
    top = (legend_height - 0.2) / height
    for i, line in enumerate(legend):
        row, column = i % legend_rows, i // legend_rows
        figure.text((0.2 + column * column_width) / width, top - row * _LINE_IN / height, line,
                    fontsize=8, va="top", ha="left", family="monospace")
    save(figure, path)
    return figure
