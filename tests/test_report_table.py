"""The printed summary and `result.stats`: every new figure shown, plain warnings where a
reader could be misled (a short window, a naive rule beating the model, a run that never
traded)."""

import pandas as pd
import pytest

from lstm_bt import stats
from lstm_bt.cli.backtest import format_summary
from lstm_bt.report.html import html_report
from lstm_bt.report.table import METRIC_ROWS, duration_text, stats_series, zero_trade_reason


def report(start="2024-01-01T00:00:00", end="2024-01-11T00:00:00", trades=3, forecast=None,
           **params):
    metrics = dict.fromkeys(stats.METRIC_KEYS, 1.5)
    metrics.update(trades=trades, exposure_pct=0.0 if not trades else 40.0, fees=12.3456)
    return {
        "data": {"symbol": "BTCUSDT", "interval": "1h", "start": start, "end": end, "bars": 240},
        "params": {"threshold": 0.002, "commission": 0.001, "slippage": 0.0, **params},
        "metrics": metrics,
        "benchmark": dict.fromkeys(stats.METRIC_KEYS, None),
        "forecast": forecast or {"n": 1200, "hit_rate": 0.519, "p_value": 0.0003,
                                 "baseline_hit_rate": 0.467, "reversal_hit_rate": 0.533,
                                 "best_naive_hit_rate": 0.533, "ic": 0.02, "rmse": 120.0},
        "timing": {"retrains": 2, "total_s": 3.0},
    }


def test_summary_prints_every_new_figure_formatted():
    text = format_summary(report())
    for _, label, _, _ in METRIC_ROWS:
        assert label in text
    assert "Fees [quote]                       12.35" in text
    assert "Trades                                 3" in text  # a count, not 3.000000
    assert "p < 0.001" in text and "p = 0.000" not in text


def test_summary_says_plainly_when_a_naive_rule_beats_the_model():
    text = format_summary(report())
    assert 'the naive rule "reverse the last move" (0.533) beats the model (0.519)' in text
    better = {"n": 900, "hit_rate": 0.58, "p_value": 0.01, "baseline_hit_rate": 0.55,
              "reversal_hit_rate": 0.45, "best_naive_hit_rate": 0.55}
    assert 'model beats the better naive rule, "repeat the last move"' in format_summary(
        report(forecast=better))


@pytest.mark.parametrize("end, warned", [("2024-01-11T00:00:00", True),
                                         ("2024-06-01T00:00:00", False)])
def test_annualized_figures_over_a_short_window_carry_a_warning(end, warned):
    text = format_summary(report(end=end))
    assert ("annualized from 10 days" in text) is warned
    assert ("Sharpe *" in text) is warned and ("Return [%] *" not in text)


def test_a_run_without_trades_says_the_largest_predicted_move_was_below_the_threshold():
    forecasts = pd.DataFrame({"close": [100.0, 101.0, 99.0],
                              "predicted_close": [100.18, 100.9, 99.1]})
    text = format_summary(report(trades=0), forecasts)
    assert "no trade: largest predicted move 0.0018 <= threshold 0.002" in text
    # The default "cost" threshold is resolved from the broker params: 2 x (0.001 + 0.0005).
    cost = report(trades=0, threshold="cost", slippage=0.0005)
    assert "threshold 0.003 " in zero_trade_reason(cost, forecasts)
    assert zero_trade_reason(report(trades=2), forecasts) is None


def test_stats_is_a_labelled_series_with_units_in_the_keys():
    series = stats_series(report())
    assert series["Fees [quote]"] == 12.3456 and series["Trades"] == 3
    assert series["Buy & hold Sharpe"] is None
    assert series["Best naive rule"] == "reverse the last move"
    assert series["End (exclusive)"] == pd.Timestamp("2024-01-11")
    assert series.name == "BTCUSDT 1h"


@pytest.mark.parametrize("bars, interval, shown", [
    (312, "1h", "13 d 0 h"), (5, "1h", "5 h"), (312, "1d", "312 d"), (3, "1w", "21 d"),
    (101, "15m", "1 d 1 h 15 min"), (97, "15m", "1 d 0 h 15 min"), (0, "1h", "0 h"), (None, "1h", "n/a"), (2, "1M", "n/a"),
])
def test_a_duration_in_bars_reads_as_days_and_the_intervals_units(bars, interval, shown):
    assert duration_text(bars, interval) == shown


@pytest.mark.parametrize("interval, step, strategy, hold", [
    ("1h", pd.Timedelta(hours=1), "13 d 0 h", "1 d 6 h"),
    ("1d", pd.Timedelta(days=1), "312 d", "30 d")])
def test_the_longest_drawdown_is_also_given_in_time_wherever_the_metrics_are(interval, step,
                                                                             strategy, hold):
    run = report()
    run["data"]["interval"] = interval
    run["metrics"]["max_drawdown_bars"], run["benchmark"]["max_drawdown_bars"] = 312, 30
    text = format_summary(run)
    assert f"Longest drawdown [bars]{'312':>17}{'30':>14}" in text
    assert f"Longest drawdown [time]{strategy:>17}{hold:>14}" in text
    assert (f"<tr><th>Longest drawdown [time]</th><td>{strategy}</td><td>{hold}</td></tr>"
            in html_report(pd.DataFrame({"value": [1.0, 2.0]}, index=pd.date_range(
                "2024-01-01", periods=2, freq="h")), report=run))
    series = stats_series(run)
    assert series["Longest drawdown [time]"] == 312 * step
    assert series["Buy & hold Longest drawdown [time]"] == 30 * step


def test_a_position_still_open_is_named_when_no_trade_closed():
    run = report(trades=0)
    run["metrics"]["exposure_pct"] = 78.9
    assert zero_trade_reason(run) == "no closed trade: the position opened is still open at the end"
    run["open_trades"] = [{"side": "long", "open_datetime": "2025-01-20T00:00:00",
                           "pnl_net": -1770.3}]
    assert zero_trade_reason(run) == ("no closed trade: the long opened 2025-01-20 00:00 is "
                                      "still open at the end (net P&L so far -1,770.30)")
