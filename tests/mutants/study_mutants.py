"""Planted bugs in a study's arithmetic (issue 22's list): each a slip that once went unseen.

Fields as `check_mutants.Mutant`: id, what it breaks, edits (path, old snippet, new snippet),
the test files that must notice.
"""

REPORT = "lstm_bt/sweeps/report.py"
VERDICT = "lstm_bt/sweeps/verdict.py"
OVERFITTING = "lstm_bt/stats/overfitting.py"
ARITHMETIC = ("tests/test_study_report.py",)
PBO_TESTS = ("tests/test_overfitting.py",)
GUARDS = ("tests/test_study_guards.py",)

STUDY_MUTANTS = (
    ("config-median-as-mean", "configs.csv's sharpe_median is the mean of the cells",
     ((REPORT, '"sharpe_median": _stat(sharpe[ok].median()),',
       '"sharpe_median": _stat(sharpe[ok].mean()),'),), ARITHMETIC),
    ("config-q25-as-q75", "configs.csv's sharpe_q25 is the 75th percentile",
     ((REPORT, '"sharpe_q25": _stat(sharpe[ok].quantile(0.25)),',
       '"sharpe_q25": _stat(sharpe[ok].quantile(0.75)),'),), ARITHMETIC),
    ("beat-bh-share-from-another-column", "beat_bh_share compares with buy and hold's Sortino",
     ((REPORT, 'share(sharpe[ok] > numbers(table, "bh_sharpe")[ok])',
       'share(sharpe[ok] > numbers(table, "bh_sortino")[ok])'),), ARITHMETIC),
    ("bh-columns-hold-the-strategy", "cells.csv's bh_* columns hold the strategy's figures",
     ((REPORT, 'row.update({f"bh_{k}": v for k, v in report.get("benchmark", {}).items()})',
       'row.update({f"bh_{k}": v for k, v in report.get("metrics", {}).items()})'),),
     ARITHMETIC),
    ("dsr-with-n-minus-1-trials", "DSR deflates for N - 1 trials",
     ((REPORT, "deflated_sharpe_ratio(sr, n, skew, kurtosis, len(configs), variance)",
       "deflated_sharpe_ratio(sr, n, skew, kurtosis, len(configs) - 1, variance)"),),
     ARITHMETIC),
    ("dsr-with-annualized-variance", "DSR's V is the variance of annualized Sharpe ratios",
     ((REPORT, "variance = float(np.var(sharpes, ddof=1))",
       "variance = float(np.var(np.array(sharpes) * 8760**0.5, ddof=1))"),), ARITHMETIC),
    ("no-trade-cells-dropped", "cells without a trade drop out of the medians",
     (("lstm_bt/sweeps/counting.py",
       'sharpe = numbers(table, "sharpe").mask(no_trade(table), 0.0)',
       'sharpe = numbers(table, "sharpe")'),), ARITHMETIC),
    ("significant-on-dsr-alone", "significant ignores PBO",
     ((VERDICT, "                and pbo_value < PBO_LEVEL)", "                )"),),
     ARITHMETIC),
    ("short-windows-not-warned", "a 9-day period is not warned about",
     ((VERDICT, "if d < SHORT_WINDOW_DAYS}", "if d < 9}"),), ARITHMETIC),
    ("study-page-bh-column-shows-the-strategy",
     "report.html's best-config table shows the strategy's return as buy and hold's",
     (("lstm_bt/sweeps/study_page.py", "{_coloured(cell['bh_return'], 2, 20)}",
       "{_coloured(cell['return'], 2, 20)}"),), ("tests/test_study_page.py",)),
    ("failed-cells-finished-on-resume", "a resume counts failed cells as finished",
     (("lstm_bt/sweeps/results.py", 'if record is not None and record["status"] == "ok":',
       "if record is not None:"),), GUARDS),
    ("walk-forwards-get-the-first-symbols-bars", "every walk-forward trains on the first file",
     (("lstm_bt/sweeps/execute.py", "bars = bars_for(frames[walk.symbol], walk)",
       "bars = bars_for(next(iter(frames.values())), walk)"),),
     ("tests/test_sweep_study.py",)),
    ("cscv-blocks-of-t-minus-1-over-s", "CSCV cuts blocks of (T - 1) // S rows",
     ((OVERFITTING, "    block = rows // n_splits", "    block = (rows - 1) // n_splits"),),
     PBO_TESTS),
    ("pbo-ties-at-the-lowest-rank", "PBO ranks a tie out of sample at its lowest rank",
     ((OVERFITTING, "rank = np.sum(out_sharpe < best) + (np.sum(out_sharpe == best) + 1) / 2",
       "rank = np.sum(out_sharpe < best) + 1"),), PBO_TESTS),
    ("pbo-of-constant-returns", "PBO is a number when no config's returns vary",
     ((OVERFITTING, "    if not (matrix != matrix[0]).any():\n        return None\n", ""),),
     PBO_TESTS),
    ("proportional-size-uncapped", "the proportional size is not capped at `fraction`",
     (("lstm_bt/strategies/sizing.py", "fraction * min(1.0, scale * abs(move)) * equity",
       "fraction * scale * abs(move) * equity"),), GUARDS),
    ("sortino-row-shows-the-sharpe", "the Sortino row shows the Sharpe ratio",
     (("lstm_bt/report/table.py", '    ("sortino", "Sortino", 2, True),',
       '    ("sharpe", "Sortino", 2, True),'),), GUARDS),
    ("html-bh-column-shows-the-strategy",
     "the backtest's report.html shows the strategy's figures as buy and hold's",
     (("lstm_bt/report/html.py", "format_number(report.get('benchmark', {}).get(key), digits)",
       "format_number(report['metrics'].get(key), digits)"),), GUARDS),
)
