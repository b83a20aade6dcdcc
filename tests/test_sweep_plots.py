"""The sweep's PNGs can be read: no label, tick or title runs off the picture, at 4 configs or
48, with long param values; configs are named by number and spelt out in a legend."""

import itertools

import numpy as np
import pandas as pd
import pytest
from matplotlib.text import Text

from lstm_bt.sweeps.plots import heatmap, sharpe_distribution

SWEPTS = {
    4: {"threshold": [0.0005, 0.002], "sizing": ["all_in", "proportional"]},
    48: {"seq_len": [30, 60], "units": ["[64, 32]", "[128, 64, 32]"],
         "threshold": [0.0005, 0.001, 0.002], "sizing": ["all_in", "proportional"],
         "dense_units": ["[]", "[16]"]},
}


def _study(n_configs):
    swept = SWEPTS[n_configs]
    combos = list(itertools.product(*swept.values()))
    assert len(combos) == n_configs
    configs = pd.DataFrame([{"config": i, **dict(zip(swept, combo))}
                            for i, combo in enumerate(combos)])
    rng = np.random.default_rng(n_configs)
    rows = []
    for i, combo in enumerate(combos):
        for symbol, seed in itertools.product(("BTCUSDT", "ETHUSDT"), range(3)):
            trades = int(rng.integers(0, 5))
            rows.append({"config": i, **dict(zip(swept, combo)), "symbol": symbol,
                         "period_start": "2024-01-01", "period_end": "2024-04-01",
                         "seed": seed, "status": "ok", "trades": trades,
                         "exposure_pct": 50.0 if trades else 0.0,
                         "sharpe": rng.normal(0, 2) if trades else None,
                         "bh_sharpe": 1.5 if symbol == "BTCUSDT" else -0.5})
    return list(swept), configs, pd.DataFrame(rows)


def _clipped(figure):
    """What of `figure` is drawn beyond its edges (by more than a pixel): each axes with its
    title, tick labels and axis labels (the colorbar's too), and each free text."""
    renderer = figure.canvas.get_renderer()
    figure.draw(renderer)
    box = figure.bbox
    drawn = [(f"axes {axis.get_title()!r} {axis.get_xlabel()!r} {axis.get_ylabel()!r}",
              axis.get_tightbbox(renderer)) for axis in figure.axes]
    drawn += [(text.get_text(), text.get_window_extent(renderer))
              for text in [*figure.texts, *(t for axis in figure.axes for t in axis.texts)]]
    return [name for name, extent in drawn
            if extent.x0 < box.x0 - 1 or extent.y0 < box.y0 - 1 or extent.x1 > box.x1 + 1
            or extent.y1 > box.y1 + 1]


@pytest.mark.parametrize("n_configs", [4, 48])
def test_no_text_of_sharpe_png_runs_off_the_picture(n_configs, tmp_path):
    swept, configs, cells = _study(n_configs)
    figure = sharpe_distribution(cells, configs, swept, tmp_path / "sharpe.png")
    assert _clipped(figure) == []
    texts = [t.get_text() for t in figure.findobj(Text)]
    assert f"#{n_configs - 1}" in texts and "B&H" in texts
    legend = [t for t in texts if t.startswith(f"#{n_configs - 1}  ")]
    assert legend == [f"#{n_configs - 1}  " + ", ".join(
        f"{name}={configs.iloc[-1][name]}" for name in swept)]
    assert (tmp_path / "sharpe.png").stat().st_size > 0


@pytest.mark.parametrize("n_configs", [4, 48])
def test_no_text_of_a_heatmap_runs_off_the_picture(n_configs, tmp_path):
    swept, _, cells = _study(n_configs)
    for a, b in itertools.combinations(swept, 2):
        figure = heatmap(cells, a, b, None)
        assert _clipped(figure) == [], (a, b)


def test_a_heatmap_counts_a_cell_without_a_trade_as_sharpe_zero():
    swept, _, cells = _study(4)
    figure = heatmap(cells, "threshold", "sizing", None)
    shown = {t.get_text() for t in figure.axes[0].texts}
    counted = cells.assign(sharpe=cells["sharpe"].fillna(0.0))
    medians = counted.groupby(["threshold", "sizing"])["sharpe"].median()
    assert shown == {f"{value:.2f}" for value in medians}
