"""The study's answer: summary.json's figures, its warnings and its verdict in one sentence.

A study is `significant` only when both tests of the best config pass: the deflated Sharpe
ratio (DSR, N = the number of configs) is at least 0.95 and the probability of backtest
overfitting (PBO) is under 0.5. The verdict names the weaker of the two. The warnings say
what the two cannot: that the windows are too short to annualize, that buy and hold or a
naive rule did better, or that the best config rarely traded.

The effective number of trials is `stats.effective_trials` of the pooled returns: configs
with identical returns count once, correlated ones partly. `dsr_effective` deflates for that
many trials with the same V: it is the lenient end of a bracket whose strict end is `dsr`
(correlated configs have Sharpe ratios closer together, so V already shrank with them).
"""

from ..data.dates import parse_date
from ..report.table import SHORT_WINDOW_DAYS
from ..stats.overfitting import deflated_sharpe_ratio, effective_trials, pbo, return_moments
from .counting import counted_sharpe, finished, naive_beats_model, no_trade, share
from .report import finite, label

__all__ = ["summarize", "is_significant", "study_warnings", "verdict_sentence",
           "describe_summary", "DSR_LEVEL", "PBO_LEVEL", "NO_TRADE_WARNING_SHARE"]

DSR_LEVEL = 0.95
PBO_LEVEL = 0.5
# "Many" cells without a trade: from a quarter on, the median is mostly made of zeros.
NO_TRADE_WARNING_SHARE = 0.25
_BEST_KEYS = ("sharpe_median", "sharpe_q25", "sharpe_q75", "beat_bh_share",
              "beat_bh_return_share", "significant_share", "no_trade_share",
              "max_drawdown_median", "trades_median")


def summarize(spec, configs, cells, table, config_table, pooled, matrix, timing):
    """summary.json as a dict (see the README's "Study report" for each key).

    Args:
        spec, configs, cells: the sweep's spec, configs and cells.
        table, config_table: the cells and configs DataFrames.
        pooled: {config: its pooled per-bar returns}.
        matrix: the T x N matrix of aligned pooled returns, or None.
        timing: this run's timing.
    """
    best = _best(configs, config_table)
    summary = {"n_configs": len(configs), "n_cells": len(cells),
               "failed": int((~finished(table)).sum()), "best": best,
               "psr": None, "dsr": None, "pbo": None, "n_trials_effective": None,
               "dsr_effective": None}
    if best is not None:
        row = config_table.loc[best["config"]]
        summary["psr"], summary["dsr"] = finite(row["psr"]), finite(row["dsr"])
    if matrix is not None:
        summary["pbo"] = pbo(matrix)
        summary["n_trials_effective"] = effective_trials(matrix)
    if best is not None and summary["n_trials_effective"] is not None:
        moments = return_moments(pooled[best["config"]])
        summary["dsr_effective"] = deflated_sharpe_ratio(
            *moments, summary["n_trials_effective"], config_table.attrs.get("trials_variance"))
    summary["significant"] = is_significant(summary["dsr"], summary["pbo"])
    summary["warnings"] = study_warnings(spec, table, best)
    summary["verdict"] = verdict_sentence(summary)
    summary["swept"] = spec.swept
    summary["timing"] = timing
    return summary


def is_significant(dsr, pbo_value):
    """True only when DSR >= `DSR_LEVEL` and PBO < `PBO_LEVEL` (an undefined one fails)."""
    return bool(dsr is not None and pbo_value is not None and dsr >= DSR_LEVEL
                and pbo_value < PBO_LEVEL)


def _best(configs, config_table):
    ranked = config_table.dropna(subset=["sharpe_median"])
    if not len(ranked):
        return None
    row = ranked.loc[ranked["sharpe_median"].astype(float).idxmax()]
    number = int(row["config"])
    params = {**configs[number]["model"], **configs[number]["trading"]}
    return {"config": number,
            "params": {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()},
            **{key: finite(row[key]) for key in _BEST_KEYS},
            "cells": int(row["cells"]), "failed": int(row["failed"])}


def study_warnings(spec, table, best):
    """The sentences that qualify the verdict (a list, empty when nothing stands out)."""
    warnings = []
    days = {(start, end): (parse_date(end) - parse_date(start)).total_seconds() / 86_400
            for start, end in spec.periods}
    short = {period: d for period, d in days.items() if d < SHORT_WINDOW_DAYS}
    if short:
        warnings.append(
            f"{len(short)} of {len(days)} periods are shorter than {SHORT_WINDOW_DAYS} days "
            f"(the shortest {min(short.values()):.3g} days): annualized Sharpe ratios of a few "
            "weeks mostly measure luck.")
    failed = int((~finished(table)).sum())
    if failed:
        warnings.append(f"{failed} of {len(table)} cells failed and are left out of every "
                        "figure (cells.csv has their errors).")
    if best is None:
        return warnings
    mine = table[(table["config"] == best["config"]) & finished(table)]
    if not len(mine):
        return warnings
    by_sharpe, by_return = best["beat_bh_share"], best["beat_bh_return_share"]
    if (by_sharpe is not None and by_sharpe < 0.5) or (by_return is not None and by_return < 0.5):
        warnings.append(
            f"Buy and hold did better than the best config in most of its cells: the best "
            f"config beat it in only {_pct(by_sharpe)} of {len(mine)} cells by Sharpe and "
            f"{_pct(by_return)} by return.")
    naive = share(naive_beats_model(mine))
    if naive is not None and naive > 0.5:
        warnings.append(
            f"A naive rule (repeat or reverse the last move) called the next move more often "
            f"than the best config's model in {_pct(naive)} of its {len(mine)} cells.")
    flat = int(no_trade(mine).sum())
    if flat and flat >= NO_TRADE_WARNING_SHARE * len(mine):
        median = counted_sharpe(mine).median()
        warnings.append(
            f"The best config made no trade in {flat} of its {len(mine)} cells; they count as "
            f"Sharpe 0 in its median ({median:.2f}).")
    return warnings


def verdict_sentence(summary):
    """The verdict: significant or not, and the weaker of DSR and PBO, in one sentence."""
    dsr, pbo_value, n = summary["dsr"], summary["pbo"], summary["n_configs"]
    if summary["best"] is None:
        return "No verdict: no config finished a cell."
    dsr_text = ("DSR undefined (too few or constant returns)" if dsr is None else
                f"DSR {dsr:.2f} {'≥' if dsr >= DSR_LEVEL else '<'} {DSR_LEVEL}")
    pbo_text = ("PBO undefined (" + ("one config: nothing was selected" if n < 2 else
                                     "no config's returns vary") + ")" if pbo_value is None
                else f"PBO {pbo_value:.2f} {'<' if pbo_value < PBO_LEVEL else '≥'} {PBO_LEVEL}")
    # How far each figure is on the passing side of its level, as a share of the way to the
    # end of its scale (DSR passes on [0.95, 1], PBO on [0, 0.5)); negative: it fails.
    margins = {"DSR": -1.0 if dsr is None else _margin(dsr - DSR_LEVEL, 1 - DSR_LEVEL,
                                                       DSR_LEVEL),
               "PBO": -1.0 if pbo_value is None else _margin(PBO_LEVEL - pbo_value - 1e-12,
                                                             PBO_LEVEL, 1 - PBO_LEVEL)}
    weaker = min(margins, key=margins.get)
    texts = {"DSR": dsr_text, "PBO": pbo_text}
    other = "PBO" if weaker == "DSR" else "DSR"
    meaning = {
        "DSR": f"the best of {n} config{'s' * (n != 1)} may owe its Sharpe ratio to luck",
        "PBO": "the config best on half of the data often ranks in the lower half on the rest",
    }
    if summary["significant"]:
        warned = len(summary.get("warnings") or ())
        return (f"Significant: {dsr_text} and {pbo_text}; the weaker figure is {weaker}"
                + (f" (but read the {warned} warning{'s' * (warned != 1)})." if warned else "."))
    fails_too = margins[other] < 0
    return (f"Not significant: {texts[weaker]} is the weaker figure ({meaning[weaker]})"
            + (f", and {texts[other]} fails too." if fails_too else
               f"; {texts[other]} passes."))


def describe_summary(summary):
    """The summary in plain words, a few lines for the terminal; the verdict comes last."""
    cells, failed = summary["n_cells"], summary["failed"]
    lines = [f"{cells} backtests ({summary['n_configs']} configs), {failed} failed."]
    best = summary["best"]
    if best is None:
        lines.append("No config finished a cell: nothing to compare.")
        return "\n".join(lines)
    params = ", ".join(f"{k}={label(v)}" for k, v in best["params"].items()
                       if k in summary["swept"]) or "the only config"
    finished_cells = best["cells"] - best["failed"]
    flat = round((best["no_trade_share"] or 0.0) * finished_cells)
    lines.append(
        f"best config {params}: median Sharpe {_fmt(best['sharpe_median'])} over "
        f"{finished_cells} cells (quartiles {_fmt(best['sharpe_q25'])} to "
        f"{_fmt(best['sharpe_q75'])}; {flat} without a trade, counted as 0), beat buy and hold "
        f"in {_pct(best['beat_bh_share'])} of them by Sharpe, {_pct(best['beat_bh_return_share'])}"
        " by return.")
    dsr, n = summary["dsr"], summary["n_configs"]
    if dsr is None:
        lines.append("Deflated Sharpe ratio: undefined (too few or constant returns).")
    else:
        effective = summary["n_trials_effective"]
        lines.append(
            f"deflated for {n} trial{'s' * (n != 1)}: probability {dsr:.2f} that it beats zero"
            + (f" ({_fmt(summary['dsr_effective'])} for the {effective:.1f} effective trials)."
               if effective is not None else "."))
    if summary["pbo"] is not None:
        lines.append(f"probability of backtest overfitting (CSCV): {summary['pbo']:.2f} — the "
                     "share of splits where the in-sample best config is at or below the median "
                     "out of sample.")
    lines.extend(f"warning: {warning}" for warning in summary["warnings"])
    lines.append(summary["verdict"])
    return "\n".join(lines)


def _margin(distance, passing_width, failing_width):
    return distance / (passing_width if distance >= 0 else failing_width)


def _fmt(value):
    return "n/a" if value is None else f"{value:.2f}"


def _pct(value):
    return "n/a" if value is None else f"{100 * value:.0f} %"
