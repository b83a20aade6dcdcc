"""Forecast skill: how well one-bar-ahead forecasts call the next move, against naive rules.

Pure functions over arrays. A figure that is undefined (nothing scored, a constant side) is
`None`, so it reads as `null` in `report.json`.
"""

import math

import numpy as np

from ..errors import InvalidParameter

__all__ = ["FORECAST_KEYS", "binomial_p_greater", "forecast_skill", "direction_hits",
           "best_naive_rule", "information_coefficient"]

FORECAST_KEYS = ("n", "hit_rate", "p_value", "rmse", "mae", "baseline_hit_rate",
                 "reversal_hit_rate", "best_naive_hit_rate", "ic")


def binomial_p_greater(hits, n):
    """One-sided exact binomial test against a fair coin: P(X >= hits), X ~ Binomial(n, 1/2).

    Exact integer arithmetic, rounded once to a float: no scipy.stats import.

    Example:
        >>> binomial_p_greater(6, 10)
        0.376953125
    """
    if not 0 <= hits <= n:
        raise InvalidParameter(f"Received hits={hits} for n={n}, expected 0 <= hits <= n.")
    term, tail = math.comb(n, hits), 0
    for k in range(hits, n + 1):
        tail += term
        term = term * (n - k) // (k + 1)
    return tail / (1 << n)


def forecast_skill(close, predicted_close):
    """How well one-bar-ahead forecasts call the direction and size of the next move.

    `predicted_close[t]` is the forecast of `close[t + 1]` made at bar t's close (NaN where
    none). A hit: sign(predicted - close_t) == sign(close_{t+1} - close_t); zero moves are not
    scored. The naive rules (repeat or reverse the last move) are scored on the same rows.

    Returns:
        A dict with `FORECAST_KEYS`: `n` rows scored, `hit_rate`, its one-sided binomial
        `p_value`, `rmse` and `mae` of predicted_close_t - close_(t+1), the naive rules' hit
        rates and the better one, and `ic` (`information_coefficient` of predicted and actual
        next-bar returns).
    """
    close = np.asarray(close, dtype=float)
    predicted = np.asarray(predicted_close, dtype=float)
    if close.shape != predicted.shape or close.ndim != 1:
        raise InvalidParameter(
            f"`close` and `predicted_close` must be 1-D and aligned bar by bar, got shapes "
            f"{close.shape} and {predicted.shape}; reindex the forecasts onto the bars."
        )
    current, following, forecast = close[:-1], close[1:], predicted[:-1]
    scored = np.isfinite(forecast) & np.isfinite(following)
    model, naive = direction_hits(close, predicted)
    hits = int(np.nansum(model))
    n = int(np.isfinite(model).sum())
    errors = forecast[scored] - following[scored]
    baseline_hits = naive[np.isfinite(naive)] == 1
    repeat = float(baseline_hits.mean()) if len(baseline_hits) else None
    reverse = float(np.mean(~baseline_hits)) if len(baseline_hits) else None
    return {
        "n": n,
        "hit_rate": hits / n if n else None,
        "p_value": binomial_p_greater(hits, n) if n else None,
        "rmse": float(np.sqrt(np.mean(errors**2))) if len(errors) else None,
        "mae": float(np.mean(np.abs(errors))) if len(errors) else None,
        "baseline_hit_rate": repeat,
        "reversal_hit_rate": reverse,
        "best_naive_hit_rate": None if repeat is None else max(repeat, reverse),
        "ic": information_coefficient((forecast[scored] - current[scored]) / current[scored],
                                      (following[scored] - current[scored]) / current[scored]),
    }


def direction_hits(close, predicted_close):
    """Per bar, whether the forecast and the "repeat the last move" rule called the next move.

    Returns:
        `(model, repeat)`: float arrays as long as `close`, 1.0 a hit, 0.0 a miss, NaN not
        scored (by `forecast_skill`'s rules). "Reverse the last move" hits where `repeat` is 0.
    """
    close = np.asarray(close, dtype=float)
    predicted = np.asarray(predicted_close, dtype=float)
    current, following, forecast = close[:-1], close[1:], predicted[:-1]
    last_move = np.concatenate(([np.nan], np.diff(close)))[:-1]
    scored = np.isfinite(forecast) & np.isfinite(following)
    actual = np.sign(following - current)
    called = np.sign(forecast - current)
    model = np.full(len(close), np.nan)
    repeat = np.full(len(close), np.nan)
    direction = scored & (actual != 0) & (called != 0)
    model[:-1][direction] = called[direction] == actual[direction]
    naive = scored & (actual != 0) & np.isfinite(last_move) & (last_move != 0)
    repeat[:-1][naive] = np.sign(last_move[naive]) == actual[naive]
    return model, repeat


def best_naive_rule(forecast):
    """`(rule, beats_model)` of a `forecast_skill` dict: the better naive rule's name (None
    when neither was scored), and whether its hit rate is above the model's."""
    repeat, reverse = forecast.get("baseline_hit_rate"), forecast.get("reversal_hit_rate")
    if repeat is None or reverse is None:
        return None, False
    rule = "reverse the last move" if reverse > repeat else "repeat the last move"
    hit_rate = forecast.get("hit_rate")
    return rule, hit_rate is not None and max(repeat, reverse) > hit_rate


def information_coefficient(predicted, actual):
    """Spearman rank correlation of predicted and actual returns ("Rank IC"), ties at their
    average rank, NaN pairs left out; None with fewer than two pairs or a constant side."""
    predicted = np.asarray(predicted, dtype=float)
    actual = np.asarray(actual, dtype=float)
    both = np.isfinite(predicted) & np.isfinite(actual)
    if both.sum() < 2:
        return None
    ranks = [_average_ranks(side[both]) for side in (predicted, actual)]
    if any(np.ptp(rank) == 0 for rank in ranks):
        return None
    return _finite(np.corrcoef(ranks[0], ranks[1])[0, 1])


def _average_ranks(values):
    """Ranks 1..n, tied values sharing the mean of their ranks."""
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    starts = np.concatenate(([True], sorted_values[1:] != sorted_values[:-1]))
    group = np.cumsum(starts) - 1
    first = np.flatnonzero(starts)
    counts = np.diff(np.append(first, len(values)))
    mean_rank = first + (counts + 1) / 2.0
    ranks = np.empty(len(values))
    ranks[order] = mean_rank[group]
    return ranks


def _finite(value):
    value = float(value)
    return value if math.isfinite(value) else None
