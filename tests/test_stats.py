"""lstm_bt.stats: every metric equals empyrical-reloaded's on the same returns, hourly and
daily, and is None exactly where empyrical's answer is inf or NaN."""

import math

import backtrader as bt
import empyrical
import numpy as np
import pytest
import pandas as pd
from scipy.stats import binomtest, spearmanr

from helpers.backtest import run, sma_frame
from lstm_bt import stats
from lstm_bt.analyzers import EquityCurve
from lstm_bt.errors import InvalidParameter

START = 10_000.0
HOURLY, DAILY = 8760, 365

RETURN_SERIES = {
    "noisy": np.random.default_rng(1).normal(0.0004, 0.01, 500),
    "losing": -np.abs(np.random.default_rng(2).normal(0.001, 0.004, 200)),
    "all_positive": np.abs(np.random.default_rng(3).normal(0.001, 0.002, 100)),
    "zero_variance": np.full(50, 0.001),
    "all_zero": np.zeros(30),
    "with_flat_bars": np.r_[np.zeros(40), np.random.default_rng(4).normal(0, 0.02, 60)],
    "one_return": np.array([-0.02]),
    "empty": np.array([]),
}


def empyrical_metrics(returns, bars_per_year):
    """DESIGN's metrics computed by empyrical, in lstm-bt's units (percent where `_pct`)."""
    p = bars_per_year
    return {
        "total_return_pct": 100 * empyrical.cum_returns_final(returns),
        "cagr_pct": 100 * empyrical.cagr(returns, annualization=p),
        "sharpe": empyrical.sharpe_ratio(returns, annualization=p),
        "sortino": empyrical.sortino_ratio(returns, annualization=p),
        "max_drawdown_pct": -100 * empyrical.max_drawdown(returns),
        "calmar": empyrical.calmar_ratio(returns, annualization=p),
        "volatility_pct": 100 * empyrical.annual_volatility(returns, annualization=p),
        "var_95_pct": 100 * empyrical.value_at_risk(returns),
        "cvar_95_pct": 100 * empyrical.conditional_value_at_risk(returns),
    }


def assert_same(ours, theirs, name):
    if theirs is None or not math.isfinite(theirs):
        assert ours is None, f"{name}: empyrical says {theirs}, we say {ours} (want None)"
    else:
        assert ours is not None, f"{name}: empyrical says {theirs}, we say None"
        assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-12), name


@pytest.mark.parametrize("bars_per_year", [HOURLY, DAILY], ids=["1h", "1d"])
@pytest.mark.parametrize("series", list(RETURN_SERIES))
def test_every_metric_equals_empyrical(series, bars_per_year):
    returns = RETURN_SERIES[series]
    values = START * np.cumprod(1 + returns)
    ours = stats.compute_metrics(values, START, bars_per_year)
    assert stats.simple_returns(values, START) == pytest.approx(returns, abs=1e-12)
    for name, theirs in empyrical_metrics(returns, bars_per_year).items():
        assert_same(ours[name], theirs, name)


def test_undefined_metrics_are_none_never_inf_or_nan():
    flat = stats.compute_metrics(np.full(20, START), START, HOURLY)
    assert flat["sharpe"] is None and flat["sortino"] is None and flat["calmar"] is None
    assert flat["volatility_pct"] == 0.0 and flat["max_drawdown_pct"] == 0.0
    rising = stats.compute_metrics(START * np.cumprod(np.full(20, 1.01)), START, HOURLY)
    assert rising["sortino"] is None  # no losing bar: no downside risk
    assert rising["sharpe"] is None  # identical returns: zero variance
    assert rising["calmar"] is None  # no drawdown
    nothing = stats.compute_metrics([], START, HOURLY)
    assert nothing["final_value"] == START and nothing["trades"] == 0
    assert all(nothing[key] is None for key in stats.METRIC_KEYS
               if key not in ("final_value", "trades"))


def test_compute_metrics_returns_exactly_the_report_keys():
    metrics = stats.compute_metrics([START * 1.01, START * 0.99], START, DAILY)
    assert tuple(metrics) == stats.METRIC_KEYS


def test_risk_free_is_a_yearly_rate_converted_per_bar():
    returns = RETURN_SERIES["noisy"]
    per_bar = stats.per_bar_rate(0.04, HOURLY)
    assert (1 + per_bar) ** HOURLY == pytest.approx(1.04)
    assert stats.sharpe_ratio(returns, HOURLY, risk_free=0.04) == pytest.approx(
        empyrical.sharpe_ratio(returns, risk_free=per_bar, annualization=HOURLY), rel=1e-12)
    assert stats.sortino_ratio(returns, HOURLY, risk_free=0.04) == pytest.approx(
        empyrical.sortino_ratio(returns, required_return=per_bar, annualization=HOURLY),
        rel=1e-12)


def test_annualization_is_crypto_not_252():
    returns = RETURN_SERIES["noisy"]
    assert stats.sharpe_ratio(returns, HOURLY) / stats.sharpe_ratio(returns, DAILY) == (
        pytest.approx(math.sqrt(24)))


def test_drawdown_length_counts_consecutive_bars_below_the_peak():
    # Peak 100 (W_0): three bars below it, a new peak 101, two bars below that, a new peak.
    # The longest stretch starts at W_0, so counting from the first bar would give 2.
    values = [99.0, 98.0, 97.0, 101.0, 100.0, 90.0, 102.0]
    pct, bars = stats.max_drawdown(values, 100.0)
    assert pct == pytest.approx(100 * (1 - 90 / 101))
    assert bars == 3


def test_drawdown_equals_backtraders_drawdown_on_the_same_run():
    strat = run(sma_frame(), analyzers=[
        ("equity", EquityCurve, {}),
        ("btdd", bt.analyzers.DrawDown, {}),
    ])
    equity = strat.analyzers.equity.get_analysis()
    theirs = strat.analyzers.btdd.get_analysis()["max"]
    pct, bars = stats.max_drawdown(equity["value"], START)
    assert theirs["drawdown"] > 1  # the run really had a drawdown to compare
    assert pct == pytest.approx(theirs["drawdown"], rel=1e-12)
    assert bars == theirs["len"]


def test_trades_win_rate_and_exposure():
    metrics = stats.compute_metrics(
        [START] * 4, START, DAILY, trades=[5.0, -2.0, 0.0, 1.0],
        exposure=[True, False, True, True],
    )
    assert metrics["trades"] == 4
    assert metrics["win_rate_pct"] == 50.0  # break-even is not a win
    assert metrics["exposure_pct"] == 75.0
    assert stats.compute_metrics([START], START, DAILY)["win_rate_pct"] is None


def test_trade_figures_from_hand_built_trades():
    # Three trades: +30 on 1000 put in, -10 on 1000, -5 on 500.
    figures = stats.trade_stats([30.0, -10.0, -5.0], [1000.0, 1000.0, 500.0], [3, 1, 2])
    assert figures["profit_factor"] == pytest.approx(30.0 / 15.0)
    assert figures["avg_trade_pct"] == pytest.approx((3.0 - 1.0 - 1.0) / 3)
    assert figures["best_trade_pct"] == pytest.approx(3.0)
    assert figures["worst_trade_pct"] == pytest.approx(-1.0)
    assert figures["avg_bars_held"] == pytest.approx(2.0)


def test_trade_figures_are_none_where_undefined():
    assert stats.trade_stats([]) == dict.fromkeys(stats.TRADE_STAT_KEYS)
    # Only winners: no loss to divide by.
    assert stats.trade_stats([5.0, 1.0], [100.0, 100.0], [1, 1])["profit_factor"] is None
    assert stats.trade_stats([5.0, -1.0])["avg_trade_pct"] is None  # entry values unknown


def test_fees_and_pnl_add_up():
    metrics = stats.compute_metrics([START + 50, START + 80], START, DAILY, fees=12.5)
    assert metrics["net_pnl"] == pytest.approx(80.0)
    assert metrics["gross_pnl"] == pytest.approx(92.5)
    assert metrics["fees_pct"] == pytest.approx(0.125)
    unknown = stats.compute_metrics([START + 50], START, DAILY)
    assert unknown["fees"] is unknown["gross_pnl"] is unknown["fees_pct"] is None


def test_longest_drawdown_equals_the_longest_run_below_the_running_peak():
    values = START * np.cumprod(1 + np.random.default_rng(5).normal(0, 0.01, 3000))
    path = pd.Series(np.r_[START, values])
    below = path < path.cummax()
    runs = below.groupby((~below).cumsum()).sum()
    assert stats.max_drawdown(values, START)[1] == runs.max() > 50


def test_monthly_returns_chain_month_ends_from_the_starting_cash():
    when = pd.date_range("2024-01-31 22:00", periods=30, freq="h")  # Jan 31 to Feb 2
    curves = pd.DataFrame({"strategy_pct": np.linspace(101, 130, 30),
                           "buy_and_hold_pct": np.linspace(99, 70, 30)}, index=when)
    table = stats.monthly_returns(when, curves, 100.0)
    assert list(table.columns) == ["year", "month", "strategy_pct", "buy_and_hold_pct"]
    assert table[["year", "month"]].values.tolist() == [[2024, 1], [2024, 2]]
    jan_end = curves.loc["2024-01-31"].iloc[-1]
    assert table["strategy_pct"].tolist() == pytest.approx(
        [100 * (jan_end["strategy_pct"] / 100 - 1), 100 * (130 / jan_end["strategy_pct"] - 1)])
    compounded = np.prod(1 + table["buy_and_hold_pct"] / 100)
    assert compounded == pytest.approx(70 / 100)
    assert len(stats.monthly_returns([], np.empty((0, 2)), 100.0)) == 0


def test_cagr_of_a_wiped_out_account_is_none_not_complex():
    assert stats.cagr_pct(-5.0, START, 10, DAILY) is None


def test_cagr_beyond_floats_is_none_not_an_overflow():
    # Five 1-second bars up 1 %, compounded over the 31,536,000 seconds of a year.
    assert stats.cagr_pct(START * 1.01, START, 5, 31_536_000) is None


def test_bad_start_value_is_refused_with_the_fix():
    with pytest.raises(InvalidParameter, match="start_value.*starting cash"):
        stats.compute_metrics([1.0], 0.0, DAILY)
    with pytest.raises(InvalidParameter, match="bars_per_year"):
        stats.volatility_pct([0.01, 0.02], None)


# --- forecast skill ---------------------------------------------------------------------

def test_forecast_skill_scores_direction_and_leaves_zero_moves_out():
    close = np.array([10.0, 11.0, 12.0, 12.0, 11.0, 13.0, 14.0])
    # Forecasts of the next close made at bars 0..5; bar 6 has no next close to check.
    predicted = np.array([10.5, 11.5, 13.0, 12.5, 10.0, 12.0, 15.0])
    skill = stats.forecast_skill(close, predicted)
    # Moves: +1 +1 0 -1 +2 +1. Calls: up up up up down down. Bar 2 (next move 0) is left out.
    # Hits at bars 0, 1; misses at 3, 4, 5.
    assert skill["n"] == 5
    assert skill["hit_rate"] == pytest.approx(2 / 5)
    assert skill["p_value"] == pytest.approx(binomtest(2, 5, 0.5, alternative="greater").pvalue)
    errors = predicted[:6] - close[1:]
    assert skill["rmse"] == pytest.approx(np.sqrt(np.mean(errors**2)))
    assert skill["mae"] == pytest.approx(np.mean(np.abs(errors)))
    # Baseline on the same rows: last moves (none) +1 +1 0 -1 +2 vs next +1 +1 0 -1 +2 +1:
    # bar 0 has no last move, bar 2 no next move, bar 3 a zero last move; bars 1, 4, 5 scored:
    # +1 vs +1 hit, -1 vs +2 miss, +2 vs +1 hit.
    assert skill["baseline_hit_rate"] == pytest.approx(2 / 3)
    assert tuple(skill) == stats.FORECAST_KEYS


def test_forecast_skill_perfect_foresight_is_significant_and_noise_is_not():
    rng = np.random.default_rng(0)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 400)))
    perfect = np.r_[close[1:], np.nan]
    assert stats.forecast_skill(close, perfect)["hit_rate"] == 1.0
    assert stats.forecast_skill(close, perfect)["p_value"] < 1e-6
    guess = close * np.exp(rng.normal(0, 0.01, 400))
    assert stats.forecast_skill(close, guess)["p_value"] > 0.01


def test_forecast_skill_without_forecasts_is_undefined():
    skill = stats.forecast_skill([1.0, 2.0, 3.0], [np.nan, np.nan, np.nan])
    assert skill == {key: 0 if key == "n" else None for key in stats.FORECAST_KEYS}


def test_reversal_rule_is_scored_on_the_baselines_bars_and_the_better_one_named():
    close = np.array([10.0, 11.0, 12.0, 12.0, 11.0, 13.0, 14.0])
    predicted = np.array([10.5, 11.5, 13.0, 12.5, 10.0, 12.0, 15.0])
    skill = stats.forecast_skill(close, predicted)
    # Same rows as the baseline (bars 1, 4, 5): reversing calls -1, +1, -1 vs +1, +2, +1.
    assert skill["reversal_hit_rate"] == pytest.approx(1 / 3)
    assert skill["best_naive_hit_rate"] == pytest.approx(2 / 3)
    assert stats.best_naive_rule(skill) == ("repeat the last move", True)  # model hit 0.4


def test_a_mean_reverting_series_makes_reversal_the_best_naive_rule():
    moves = np.random.default_rng(8).normal(0, 1, 600)
    returns = moves[1:] - 0.6 * moves[:-1]  # MA(1): next move tends to undo the last
    close = 100 * np.exp(np.cumsum(0.01 * returns))
    skill = stats.forecast_skill(close, close * 1.001)  # the model always says "up"
    assert skill["reversal_hit_rate"] > 0.6 > skill["baseline_hit_rate"]
    assert skill["best_naive_hit_rate"] == skill["reversal_hit_rate"]
    assert stats.best_naive_rule(skill) == ("reverse the last move", True)


def test_ic_equals_scipys_spearman_of_predicted_and_actual_returns():
    rng = np.random.default_rng(6)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 300)))
    actual = np.r_[close[1:] / close[:-1] - 1, np.nan]
    predicted = close * (1 + 0.5 * actual + rng.normal(0, 0.01, 300))
    predicted[[5, 50]] = np.nan
    skill = stats.forecast_skill(close, predicted)
    rows = np.isfinite(predicted[:-1])
    theirs = spearmanr((predicted[:-1] / close[:-1] - 1)[rows], actual[:-1][rows]).statistic
    assert skill["ic"] == pytest.approx(theirs, rel=1e-9) and skill["ic"] > 0.2
    # Ties take their average rank, as scipy's do.
    tied = rng.integers(0, 4, 100).astype(float), rng.integers(0, 3, 100).astype(float)
    assert stats.information_coefficient(*tied) == pytest.approx(spearmanr(*tied).statistic)
    assert stats.information_coefficient([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]) is None
    assert stats.information_coefficient([1.0], [2.0]) is None


def test_forecast_skill_refuses_misaligned_inputs():
    with pytest.raises(InvalidParameter, match="aligned"):
        stats.forecast_skill([1.0, 2.0, 3.0], [1.0, 2.0])


@pytest.mark.parametrize("hits, n", [(0, 1), (1, 1), (6, 10), (520, 1000), (4552, 8782),
                                     (4391, 8782), (5000, 9000)])
def test_the_exact_binomial_p_value_equals_scipys(hits, n):
    from lstm_bt.stats import binomial_p_greater

    expected = binomtest(hits, n, 0.5, alternative="greater").pvalue
    assert binomial_p_greater(hits, n) == pytest.approx(expected, rel=1e-12, abs=0)


def test_cagr_too_large_to_represent_is_none_not_an_overflow():
    # 30 one-second bars up 1 %, annualized over 31,536,000 bars a year: 1.01 ** 1,051,200.
    assert stats.cagr_pct(START * 1.01, START, 30, 31_536_000) is None
    assert stats.cagr_pct(START * 0.99, START, 30, 31_536_000) == -100.0
