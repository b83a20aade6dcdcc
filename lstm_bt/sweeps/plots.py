"""The sweep's figures: median Sharpe heatmaps per pair of swept params, and Sharpe per config.

Drawn on standalone Agg figures (`plotting._canvas`), never through pyplot.
"""

import itertools

import numpy as np
import pandas as pd

__all__ = ["draw", "heatmap", "sharpe_distribution"]


def draw(path, spec, cells, configs):
    """Write `heatmap_<a>__<b>.png` for each pair of swept params, and `sharpe.png`."""
    ok = cells[cells["status"] == "ok"]
    for a, b in itertools.combinations(spec.swept, 2):
        heatmap(ok, a, b, path / f"heatmap_{a}__{b}.png")
    sharpe_distribution(ok, configs, spec.swept, path / "sharpe.png")


def heatmap(cells, a, b, path):
    """Median Sharpe of the finished cells for each (a, b) pair of values."""
    from ..report.plotting._canvas import new_figure, save

    values = cells.assign(sharpe=pd.to_numeric(cells.get("sharpe"), errors="coerce"),
                          **{a: cells[a].astype(str), b: cells[b].astype(str)})
    table = values.pivot_table(index=a, columns=b, values="sharpe", aggfunc="median",
                               dropna=False)
    figure = new_figure(1.6 + 1.1 * max(2, table.shape[1]), 1.4 + 0.7 * max(2, table.shape[0]))
    axis = figure.add_subplot()
    grid = table.to_numpy(dtype=float)
    finite = grid[np.isfinite(grid)]
    limit = float(np.max(np.abs(finite))) if finite.size else 1.0
    image = axis.imshow(grid, cmap="RdYlGn", vmin=-limit or -1, vmax=limit or 1, aspect="auto")
    axis.set_xticks(range(table.shape[1]), table.columns)
    axis.set_yticks(range(table.shape[0]), table.index)
    axis.set_xlabel(b)
    axis.set_ylabel(a)
    for (row, column), value in np.ndenumerate(grid):
        axis.text(column, row, "n/a" if not np.isfinite(value) else f"{value:.2f}",
                  ha="center", va="center", fontsize=9)
    axis.set_title("median Sharpe over symbols, periods and seeds")
    figure.colorbar(image, ax=axis, label="Sharpe (annualized)")
    save(figure, path)
    return figure


def sharpe_distribution(cells, configs, swept, path):
    """Box and points of each config's cell Sharpe ratios, beside buy and hold's."""
    from ..report.plotting._canvas import new_figure, save

    numbers = list(configs["config"])
    samples = [pd.to_numeric(cells.loc[cells["config"] == n, "sharpe"], errors="coerce")
               .dropna().to_numpy() if "sharpe" in cells else np.empty(0) for n in numbers]
    bh = (pd.to_numeric(cells.drop_duplicates(["symbol", "period_start", "period_end"])
                        .get("bh_sharpe"), errors="coerce").dropna().to_numpy()
          if "bh_sharpe" in cells else np.empty(0))
    labels = [_config_label(configs.iloc[i], swept) for i in range(len(numbers))]
    figure = new_figure(max(6.0, 1.0 + 0.7 * (len(numbers) + 1)), 5.0)
    axis = figure.add_subplot()
    data = samples + [bh]
    positions = range(1, len(data) + 1)
    axis.boxplot([d if d.size else [np.nan] for d in data], positions=list(positions),
                 widths=0.6, showfliers=False)
    for x, sample in zip(positions, data):
        jitter = np.linspace(-0.12, 0.12, sample.size) if sample.size > 1 else np.zeros(sample.size)
        axis.plot(x + jitter, sample, "o", markersize=3, alpha=0.6,
                  color="tab:gray" if x == len(data) else "tab:blue")
    axis.axhline(0.0, color="black", linewidth=0.8)
    axis.set_xticks(list(positions), labels + ["buy and hold"], rotation=45, ha="right",
                    fontsize=8)
    axis.set_ylabel("Sharpe (annualized), one point per cell")
    axis.set_title("Sharpe per config over symbols, periods and seeds")
    save(figure, path)
    return figure


def _config_label(row, swept):
    return ", ".join(f"{name}={row[name]}" for name in swept) or f"config {row['config']}"
