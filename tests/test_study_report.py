"""The study's arithmetic on made-up cell records, each figure recomputed here by hand.

Records have distinct values (skewed, so a mean is not a median and q25 is not q75), two
files, two periods, three seeds and eight configs, two of which trade exactly alike; some
cells make no trade and one failed. Every figure of configs.csv, breakdown.csv and
summary.json is recomputed from the records with numpy/scipy and compared.
"""

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kurtosis, norm, skew

from lstm_bt.data.synthetic import random_walk
from lstm_bt.stats import pbo
from lstm_bt.sweeps.plan import plan_sweep
from lstm_bt.sweeps.report import build_tables
from lstm_bt.sweeps.spec import load_spec
from lstm_bt.sweeps.verdict import is_significant, study_warnings, verdict_sentence

SOURCES = [("AAAUSDT", "1h", random_walk(300, seed=1)), ("BBBUSDT", "1h", random_walk(300, seed=2))]
PERIODS = [["2024-01-01", "2024-04-01"], ["2024-04-01", "2024-07-01"]]
BARS = (240, 300)  # per-bar returns of a cell in period 1 and 2, kept short
FAILED = (5, "BBBUSDT", "2024-04-01", 2)  # config, symbol, period start, seed


def _spec(periods=PERIODS):
    return load_spec({
        "data": {"files": ["a.csv", "b.csv"], "interval": "1h", "periods": periods},
        "run": {"seeds": [0, 1, 2]},
        "model": {"seq_len": [8, 12], "train_window": 60, "epochs": 1, "units": [4]},
        "trading": {"threshold": [0.001, 0.002], "sizing": ["all_in", "proportional"]},
    })


def _record(cell, periods=PERIODS):
    """A made-up record: distinct, skewed figures; configs 2 and 3 trade exactly alike;
    config 6 trades in no cell of period 2 and seed 0; one cell failed."""
    if (cell.config, cell.symbol, cell.period_start, cell.seed) == FAILED:
        return {"key": cell.key, "status": "failed", "error": "ValueError: made up",
                "report": None, "returns": None, "train_s": 1.0, "total_s": 2.0}
    twin = 2 if cell.config == 3 else cell.config  # config 3 is config 2's twin
    place = SOURCES.index(next(s for s in SOURCES if s[0] == cell.symbol))
    period = [p[0] for p in periods].index(cell.period_start)
    rng = np.random.default_rng([twin, place, period, cell.seed])
    flat = cell.config == 6 and (period == 1 or cell.seed == 0)
    bars = BARS[period]
    returns = np.zeros(bars) if flat else rng.standard_t(3, bars) * 0.004 + 0.0004 * twin
    market = np.random.default_rng([place, period])  # buy and hold: the same for every config
    bh = {"sharpe": float(market.normal(1.0, 2.0)), "total_return_pct": float(market.normal(5, 20)),
          "sortino": float(market.normal(2, 1)), "max_drawdown_pct": float(market.uniform(5, 30)),
          "trades": 1}
    metrics = {"sharpe": None if flat else float(rng.lognormal(0.0, 1.0) - 1.2 + 0.1 * twin),
               "sortino": None if flat else float(rng.normal()),
               "total_return_pct": 0.0 if flat else float(rng.lognormal(1.0, 1.0) - 3.0),
               "max_drawdown_pct": 0.0 if flat else float(rng.uniform(1, 25)),
               "trades": 0 if flat else int(rng.integers(1, 40)),
               "exposure_pct": 0.0 if flat else float(rng.uniform(10, 90))}
    forecast = {"hit_rate": float(rng.uniform(0.45, 0.56)), "p_value": float(rng.uniform()),
                "best_naive_hit_rate": float(rng.uniform(0.48, 0.54))}
    report = {"metrics": metrics, "benchmark": bh, "forecast": forecast}
    return {"key": cell.key, "status": "ok", "error": "", "report": report,
            "returns": returns, "train_s": 1.0, "total_s": 2.0}


@pytest.fixture(scope="module")
def study():
    spec = _spec()
    configs, cells, _ = plan_sweep(spec, SOURCES, spec.broker)
    records = {cell.key: _record(cell) for cell in cells}
    table, config_table, breakdown, summary, _ = build_tables(spec, configs, cells, records,
                                                              {"total_s": 1.0})
    return spec, configs, cells, records, table, config_table, breakdown, summary


def _counted(record):
    """The Sharpe ratio the study counts for a finished record: 0 without a trade."""
    metrics = record["report"]["metrics"]
    return 0.0 if metrics["trades"] == 0 and not metrics["exposure_pct"] else metrics["sharpe"]


def _ok(cells, records, **where):
    return [(cell, records[cell.key]) for cell in cells if records[cell.key]["status"] == "ok"
            and all(getattr(cell, k) == v for k, v in where.items())]


def _by_hand_dsr(pooled, best, n_trials):
    """DSR of config `best` from the README's formulas, per-bar Sharpe ratios throughout."""
    def sharpe(r):
        return r.mean() / r.std(ddof=1) if r.std() > 0 else 0.0

    sharpes = [sharpe(r) for r in pooled]
    variance = np.var(sharpes, ddof=1)
    gamma = 0.5772156649015329
    sr0 = math.sqrt(variance) * ((1 - gamma) * norm.ppf(1 - 1 / n_trials)
                                 + gamma * norm.ppf(1 - 1 / (n_trials * math.e)))
    r = pooled[best]
    sr, g3, g4 = sharpe(r), skew(r), kurtosis(r, fisher=False)
    psr = norm.cdf(sr * math.sqrt(len(r) - 1) / math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr**2))
    dsr = norm.cdf((sr - sr0) * math.sqrt(len(r) - 1)
                   / math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr**2))
    return psr, dsr


def test_configs_medians_quartiles_and_shares_count_every_finished_cell(study):
    _, configs, cells, records, _, config_table, _, _ = study
    for number in range(len(configs)):
        mine = _ok(cells, records, config=number)
        counted = np.array([_counted(r) for _, r in mine])
        bh = np.array([r["report"]["benchmark"]["sharpe"] for _, r in mine])
        returns = np.array([r["report"]["metrics"]["total_return_pct"] for _, r in mine])
        bh_returns = np.array([r["report"]["benchmark"]["total_return_pct"] for _, r in mine])
        flat = [r["report"]["metrics"]["trades"] == 0 for _, r in mine]
        row = config_table.loc[number]
        assert row["cells"] == 12 and row["failed"] == (number == FAILED[0])
        assert row["sharpe_median"] == pytest.approx(np.median(counted), abs=1e-12)
        assert row["sharpe_q25"] == pytest.approx(np.percentile(counted, 25), abs=1e-12)
        assert row["sharpe_q75"] == pytest.approx(np.percentile(counted, 75), abs=1e-12)
        assert row["beat_bh_share"] == pytest.approx(np.mean(counted > bh))
        assert row["beat_bh_return_share"] == pytest.approx(np.mean(returns > bh_returns))
        assert row["no_trade_share"] == pytest.approx(np.mean(flat))
        p_values = [r["report"]["forecast"]["p_value"] for _, r in mine]
        assert row["significant_share"] == pytest.approx(np.mean(np.array(p_values) < 0.05))
    # The made-up figures are skewed enough that a mean or the other quartile would differ.
    assert config_table.loc[0, "sharpe_median"] != pytest.approx(
        np.mean([_counted(r) for _, r in _ok(cells, records, config=0)]), abs=1e-3)
    assert config_table.loc[6, "no_trade_share"] == pytest.approx(8 / 12)


def test_cells_table_holds_each_records_own_figures_and_buy_and_hold_apart(study):
    _, _, cells, records, table, _, _, _ = study
    for cell, (_, row) in zip(cells, table.iterrows()):
        record = records[cell.key]
        assert (row["config"], row["symbol"], row["seed"]) == (cell.config, cell.symbol,
                                                              cell.seed)
        if record["status"] != "ok":
            assert row["status"] == "failed" and pd.isna(row["sharpe"])
            continue
        report = record["report"]
        for key in ("sharpe", "total_return_pct", "sortino", "max_drawdown_pct"):
            assert _same(row[key], report["metrics"][key])  # a null Sharpe stays null here
            assert row[f"bh_{key}"] == report["benchmark"][key]
        assert row["forecast_hit_rate"] == report["forecast"]["hit_rate"]


def test_psr_and_dsr_of_every_config_by_hand_with_n_configs_trials(study):
    _, configs, cells, records, _, config_table, _, summary = study
    pooled = [np.concatenate([r["returns"] for _, r in _ok(cells, records, config=n)])
              for n in range(len(configs))]
    for number in range(len(configs)):
        if not pooled[number].any():
            continue
        psr, dsr = _by_hand_dsr(pooled, number, len(configs))
        assert config_table.loc[number, "psr"] == pytest.approx(psr, abs=1e-9)
        assert config_table.loc[number, "dsr"] == pytest.approx(dsr, abs=1e-9)
    best = summary["best"]["config"]
    assert summary["dsr"] == config_table.loc[best, "dsr"]
    assert summary["psr"] == config_table.loc[best, "psr"]


def test_best_config_and_its_figures(study):
    _, _, _, _, _, config_table, _, summary = study
    best = int(config_table["sharpe_median"].astype(float).idxmax())
    assert summary["best"]["config"] == best
    for key in ("sharpe_median", "sharpe_q25", "beat_bh_share", "beat_bh_return_share",
                "no_trade_share"):
        assert summary["best"][key] == config_table.loc[best, key]
    assert summary["best"]["params"]["seq_len"] in (8, 12)


def test_pbo_and_effective_trials_use_the_slots_every_config_finished(study):
    _, configs, cells, records, _, _, _, summary = study
    slots = []
    for symbol, *_ in SOURCES:
        for start, _ in PERIODS:
            for seed in (0, 1, 2):
                if (symbol, start, seed) != FAILED[1:]:
                    slots.append((symbol, start, seed))
    columns = []
    for number in range(len(configs)):
        by_slot = {(c.symbol, c.period_start, c.seed): r["returns"]
                   for c, r in _ok(cells, records, config=number)}
        columns.append(np.concatenate([by_slot[slot] for slot in slots]))
    matrix = np.column_stack(columns)
    assert summary["pbo"] == pbo(matrix)
    # Configs 2 and 3 are twins (one trial), the rest correlate by chance only: about 7.
    weight = np.clip(np.corrcoef(matrix, rowvar=False), 0, 1) ** 2
    weight[2, 3] = weight[3, 2] = 1.0
    assert summary["n_trials_effective"] == pytest.approx(np.sum(1 / weight.sum(axis=1)))
    assert 6.8 < summary["n_trials_effective"] < 7.0


def test_breakdown_rows_by_config_symbol_and_period(study):
    _, configs, cells, records, _, _, breakdown, _ = study
    assert len(breakdown) == len(configs) * 2 * 2
    for _, row in breakdown.iterrows():
        mine = _ok(cells, records, config=row["config"], symbol=row["symbol"],
                   period_start=row["period_start"])
        counted = [_counted(r) for _, r in mine]
        returns = [r["report"]["metrics"]["total_return_pct"] for _, r in mine]
        bh = mine[0][1]["report"]["benchmark"]
        naive = [r["report"]["forecast"]["best_naive_hit_rate"] > r["report"]["forecast"][
            "hit_rate"] for _, r in mine]
        assert row["cells"] == 3
        assert row["sharpe_median"] == pytest.approx(np.median(counted))
        assert row["return_median"] == pytest.approx(np.median(returns))
        assert row["bh_return"] == bh["total_return_pct"]
        assert row["beat_bh_share"] == pytest.approx(np.mean(np.array(counted) > bh["sharpe"]))
        assert row["naive_beats_model_share"] == pytest.approx(np.mean(naive))
    assert list(breakdown.columns) == [
        "config", "symbol", "period_start", "period_end", "cells", "sharpe_median",
        "return_median", "bh_return", "beat_bh_share", "naive_beats_model_share",
        "no_trade_share"]


def test_significant_needs_both_dsr_and_pbo_and_the_verdict_names_the_weaker(study):
    *_, summary = study
    assert summary["significant"] is is_significant(summary["dsr"], summary["pbo"])
    assert summary["verdict"] == verdict_sentence(summary)
    base = {"n_configs": 12, "best": {"config": 0}, "warnings": []}
    cases = [
        (0.97, 0.20, True, "Significant: DSR 0.97 ≥ 0.95 and PBO 0.20 < 0.5; the weaker "
                           "figure is DSR."),
        (0.99, 0.45, True, "the weaker figure is PBO"),
        (0.98, 0.56, False, "Not significant: PBO 0.56 ≥ 0.5 is the weaker figure"),
        (0.62, 0.20, False, "Not significant: DSR 0.62 < 0.95 is the weaker figure"),
        (0.10, 0.55, False, "Not significant: DSR 0.10 < 0.95 is the weaker figure (the best "
                            "of 12 configs may owe its Sharpe ratio to luck), and PBO 0.55 ≥ "
                            "0.5 fails too."),
        (0.97, 0.50, False, "PBO 0.50 ≥ 0.5 is the weaker figure"),
        (0.97, None, False, "PBO undefined"),
    ]
    for dsr, pbo_value, significant, words in cases:
        assert is_significant(dsr, pbo_value) is significant, (dsr, pbo_value)
        summary = {**base, "dsr": dsr, "pbo": pbo_value, "significant": significant}
        assert words in verdict_sentence(summary), (dsr, pbo_value)
    assert is_significant(None, 0.1) is False


def test_summary_keys_and_warnings(study):
    *_, summary = study
    for key in ("n_trials_effective", "dsr_effective", "significant", "warnings", "verdict",
                "psr", "dsr", "pbo", "n_configs", "n_cells", "failed", "best", "timing"):
        assert key in summary, key
    assert summary["failed"] == 1 and summary["n_cells"] == 96
    assert any("1 of 96 cells failed" in w for w in summary["warnings"])
    assert not any("shorter than 90 days" in w for w in summary["warnings"])  # 90 and 91 days
    assert summary["dsr_effective"] >= summary["dsr"]  # fewer trials, less deflation


def test_a_period_under_90_days_is_warned_about():
    periods = [["2024-01-01", "2024-01-10"], ["2024-04-01", "2024-07-01"]]
    spec = _spec(periods)
    configs, cells, _ = plan_sweep(spec, SOURCES, spec.broker)
    records = {cell.key: _record(cell, periods) for cell in cells}
    *_, summary, _ = build_tables(spec, configs, cells, records, {})
    assert "1 of 2 periods are shorter than 90 days (the shortest 9 days)" in " ".join(
        summary["warnings"])


def _best_cells(sharpe, bh_sharpe, returns, bh_returns, hit, naive, trades):
    table = pd.DataFrame({"config": 0, "status": "ok", "sharpe": sharpe, "bh_sharpe": bh_sharpe,
                          "total_return_pct": returns, "bh_total_return_pct": bh_returns,
                          "forecast_hit_rate": hit, "forecast_best_naive_hit_rate": naive,
                          "trades": trades, "exposure_pct": [0.0 if t == 0 else 50.0
                                                             for t in trades]})
    counted = np.nan_to_num(np.array(sharpe, dtype=float))
    best = {"config": 0, "beat_bh_share": float(np.mean(counted > bh_sharpe)),
            "beat_bh_return_share": float(np.mean(np.array(returns) > bh_returns))}
    return table, best


def test_buy_and_hold_the_naive_rule_and_no_trades_beating_the_best_config_are_warned_about():
    spec = _spec()
    # Buy and hold better in 3 of 4 cells by Sharpe and 2 of 4 by return; the naive rule
    # better in 3 of 4; one cell without a trade.
    table, best = _best_cells([1.0, 2.0, 0.5, None], [3.0, 1.0, 4.0, 0.2], [1.0, 2.0, 0.5, 0.0],
                              [0.5, 3.0, 4.0, -1.0], [0.50, 0.52, 0.51, 0.49],
                              [0.51, 0.53, 0.50, 0.50], [3, 4, 5, 0])
    text = " ".join(study_warnings(spec, table, best))
    assert "beat it in only 25 % of 4 cells by Sharpe and 50 % by return" in text
    assert "more often than the best config's model in 75 % of its 4 cells" in text
    assert "no trade in 1 of its 4 cells; they count as Sharpe 0 in its median (0.75)" in text
    # The same cells where the best config does better: no warning.
    table, best = _best_cells([1.0, 2.0, 0.5, 0.3], [0.0, 1.0, 0.4, 0.2], [1.0, 2.0, 0.5, 0.1],
                              [0.5, 1.0, 0.4, -1.0], [0.52, 0.53, 0.51, 0.52],
                              [0.51, 0.53, 0.50, 0.50], [3, 4, 5, 2])
    assert study_warnings(spec, table, best) == []


def _same(a, b):
    return (pd.isna(a) and b is None) or a == b
