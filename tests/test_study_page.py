"""A study's report.html and files, written from made-up cell records (test_study_report's):
what the page says, that its columns hold what their headers name, and that a real browser
opens it offline without an error."""

import html
import json
import re
from html.parser import HTMLParser

import pandas as pd
import pytest

from helpers.browser import find_chromium, visit
from lstm_bt.sweeps.plan import plan_sweep
from lstm_bt.sweeps.report import write_report
from test_study_report import SOURCES, _record, _spec

RENDERED = """(() => { if (!window.Bokeh || !Bokeh.index) return null;
  const types = []; const walk = v => { types.push(v.model.type);
    for (const c of (v.child_views ?? [])) walk(c); };
  Object.values(Bokeh.index).forEach(walk);
  const figures = types.filter(t => t === 'Figure').length;
  return figures ? {figures, tables: document.querySelectorAll('table').length} : null; })()"""


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("study")
    spec = _spec()
    configs, cells, _ = plan_sweep(spec, SOURCES, spec.broker)
    records = {cell.key: _record(cell) for cell in cells}
    table, config_table, summary = write_report(out, spec, configs, cells, records, {})
    return out, table, config_table, summary


class _Tables(HTMLParser):
    """Every <table> of a page as a list of rows of cell texts."""

    def __init__(self, text):
        super().__init__()
        self.tables, self._row, self._cell = [], None, None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self._row = []
            self.tables[-1].append(self._row)
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _table_with(page, header):
    return next(t for t in _Tables(page).tables if header in t[0])


def test_every_file_of_the_study_report_is_written(written):
    out, _, _, summary = written
    names = {path.name for path in out.iterdir()}
    assert {"cells.csv", "configs.csv", "breakdown.csv", "summary.json", "returns.npz",
            "report.html", "sharpe.png", "heatmap_seq_len__threshold.png",
            "heatmap_threshold__sizing.png"} <= names
    stored = json.loads((out / "summary.json").read_text())
    assert stored["verdict"] == summary["verdict"]
    assert stored["significant"] is summary["significant"] is True  # the configs have a drift
    configs = pd.read_csv(out / "configs.csv")
    assert {"no_trade_share", "beat_bh_return_share"} <= set(configs.columns)


def test_the_page_needs_no_network_and_says_the_verdict_and_the_warnings(written):
    out, _, _, summary = written
    page = (out / "report.html").read_text()
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", page)
    assert html.escape(summary["verdict"]) in page
    assert "1 of 96 cells failed" in page
    for name in ("PSR", "DSR", "PBO", "Effective trials"):
        assert f"<th class=text>{name}</th>" in page


def test_the_best_configs_table_shows_buy_and_hold_beside_the_strategy_cell_by_cell(written):
    out, table, _, summary = written
    rows = _table_with((out / "report.html").read_text(), "buy and hold return [%]")
    header, body = rows[0], rows[1:]
    mine = table[(table["config"] == summary["best"]["config"]) & (table["status"] == "ok")]
    assert len(body) == len(mine) == 12
    column = {name: header.index(name) for name in
              ("return [%]", "buy and hold return [%]", "Sharpe", "buy and hold Sharpe",
               "hit rate", "best naive hit rate")}
    for row, (_, cell) in zip(body, mine.iterrows()):
        assert row[column["return [%]"]] == f"{cell['total_return_pct']:,.2f}"
        assert row[column["buy and hold return [%]"]] == f"{cell['bh_total_return_pct']:,.2f}"
        assert row[column["buy and hold Sharpe"]] == f"{cell['bh_sharpe']:,.2f}"
        assert row[column["hit rate"]] == f"{cell['forecast_hit_rate']:,.3f}"
        assert row[column["best naive hit rate"]] == f"{cell['forecast_best_naive_hit_rate']:,.3f}"
        assert row[column["Sharpe"]].startswith(f"{cell['sharpe']:,.2f}")


def test_the_breakdown_grid_shows_buy_and_hold_and_each_configs_median_return(written):
    out, *_ = written
    page = (out / "report.html").read_text()
    breakdown = pd.read_csv(out / "breakdown.csv")
    grid = _table_with(page, "AAAUSDT 2024-01-01 to 2024-04-01")
    assert grid[1][0] == "buy and hold"
    first = breakdown[(breakdown["symbol"] == "AAAUSDT")
                      & (breakdown["period_start"] == "2024-01-01")]
    assert grid[1][1] == f"{first['bh_return'].iloc[0]:,.1f} %"
    for number, row in zip(range(8), grid[2:]):
        median = first.loc[first["config"] == number, "return_median"].iloc[0]
        assert row[0].startswith(f"#{number} ") and row[1].startswith(f"{median:,.1f} %")


@pytest.mark.skipif(find_chromium() is None,
                    reason="no Chromium on PATH (Debian: apt-get install chromium)")
def test_a_real_browser_opens_the_page_offline_without_an_error(written):
    out, *_ = written
    seen = visit((out / "report.html").as_uri(), RENDERED, timeout=60)
    assert seen.errors == []
    assert all(url.startswith(("file:", "data:", "about:")) for url in seen.requests)
    assert seen.value == {"figures": 2, "tables": seen.value["tables"]}
    assert seen.value["tables"] >= 6
