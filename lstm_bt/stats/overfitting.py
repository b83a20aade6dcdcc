"""Statistics for many trials: how much of a sweep's best Sharpe ratio is luck.

PSR (Bailey & López de Prado, 2012), DSR (2014), PBO by combinatorially symmetric
cross-validation (Bailey, Borwein, López de Prado & Zhu, 2015), and the effective number of
trials. Sharpe ratios here are per bar, not annualized; skewness and kurtosis are population
moments, kurtosis not excess (3 for a normal). Undefined results are None.
"""

import itertools
import math

import numpy as np

from ..errors import InvalidParameter, check_int

__all__ = ["probabilistic_sharpe_ratio", "deflated_sharpe_ratio", "expected_max_sharpe", "pbo",
           "effective_trials", "return_moments", "EULER_GAMMA"]

EULER_GAMMA = 0.5772156649015329


def probabilistic_sharpe_ratio(sharpe, n, skew, kurtosis, benchmark=0.0):
    """PSR(SR*) = Φ((SR − SR*) · √(n − 1) / √(1 − γ₃·SR + (γ₄ − 1)/4 · SR²)).

    The probability that the true Sharpe ratio exceeds `benchmark`; None for a missing
    input, n < 2 or a non-positive variance term.

    Args:
        sharpe: the observed per-bar Sharpe ratio, mean(r) / std(r, ddof=1).
        n: the number of returns.
        skew, kurtosis: the returns' γ₃ and γ₄.
        benchmark: SR*, per bar. Defaults to `0.0`.

    Example:
        >>> round(probabilistic_sharpe_ratio(0.1, 251, 0.0, 3.0), 4)
        0.9426
    """
    if any(_missing(value) for value in (sharpe, n, skew, kurtosis, benchmark)) or n < 2:
        return None
    variance = 1.0 - skew * sharpe + (kurtosis - 1.0) / 4.0 * sharpe**2
    if not variance > 0:
        return None
    z = (sharpe - benchmark) * math.sqrt(n - 1) / math.sqrt(variance)
    return _normal_cdf(z)


def deflated_sharpe_ratio(sharpe, n, skew, kurtosis, n_trials, trials_variance):
    """DSR = PSR(SR₀), SR₀ the best per-bar Sharpe ratio expected of N zero-skill trials.

    SR₀ = √V · ((1 − γ)·Φ⁻¹(1 − 1/N) + γ·Φ⁻¹(1 − 1/(N·e))), γ the Euler–Mascheroni constant.
    With one trial nothing was selected: DSR = PSR(0).

    Args:
        sharpe, n, skew, kurtosis: as in `probabilistic_sharpe_ratio`, for the chosen trial.
        n_trials: N, the configs tried (a real number >= 1, e.g. `effective_trials`).
        trials_variance: V, the variance (ddof=1) of the trials' per-bar Sharpe ratios.

    Example:
        >>> dsr = deflated_sharpe_ratio(2.5 / math.sqrt(250), 1250, -3.0, 10.0, 100, 0.5 / 250)
        >>> round(dsr, 3)
        0.9
    """
    if _missing(n_trials) or n_trials < 1:
        return None
    if n_trials == 1:
        return probabilistic_sharpe_ratio(sharpe, n, skew, kurtosis, 0.0)
    if _missing(trials_variance) or trials_variance < 0:
        return None
    return probabilistic_sharpe_ratio(sharpe, n, skew, kurtosis,
                                      expected_max_sharpe(n_trials, trials_variance))


def expected_max_sharpe(n_trials, trials_variance):
    """SR₀: the Sharpe ratio the best of `n_trials` zero-skill trials is expected to show; 0
    where the approximation turns negative (N below about 1.28)."""
    from scipy.stats import norm

    spread = ((1 - EULER_GAMMA) * norm.ppf(1 - 1 / n_trials)
              + EULER_GAMMA * norm.ppf(1 - 1 / (n_trials * math.e)))
    return math.sqrt(trials_variance) * max(0.0, float(spread))


def return_moments(returns):
    """(per-bar Sharpe ratio, n, skewness, kurtosis) of the finite returns; all but n None
    below two values or without variance."""
    r = np.asarray(returns, dtype=float)
    r = r[np.isfinite(r)]
    n = int(r.size)
    if n < 2:
        return None, n, None, None
    deviation = r - r.mean()
    population = np.sqrt(np.mean(deviation**2))
    sample = r.std(ddof=1)
    if not sample > 1e-15 * max(1.0, abs(r.mean())):
        return None, n, None, None
    skew = float(np.mean(deviation**3) / population**3)
    kurtosis = float(np.mean(deviation**4) / population**4)
    return float(r.mean() / sample), n, skew, kurtosis


def pbo(returns, n_splits=16):
    """Probability of backtest overfitting by combinatorially symmetric cross-validation.

    The T × N matrix (one column per config, rows aligned bar for bar) is cut into `n_splits`
    contiguous blocks of ⌊T/S⌋ rows, the remainder at the end dropped. For each of the
    C(S, S/2) ways to pick half the blocks as in-sample (the rest out-of-sample), n* is the
    config with the highest in-sample Sharpe ratio; ω = (rank of n*'s out-of-sample Sharpe
    among the N, 1 = worst) / (N + 1); λ = ln(ω / (1 − ω)). PBO is the share of choices with
    λ ≤ 0, i.e. where the in-sample winner lands at or below the median out of sample.

    Ties as in pypbo: n* is the first config with the top in-sample Sharpe ratio, configs
    tied out of sample share their average rank. Returns that do not vary in a half have
    Sharpe ratio 0 there when zero, ±inf otherwise. None with fewer than 2 configs, fewer
    rows than blocks, or no config whose returns vary.

    Args:
        returns: a T × N array of per-bar returns, N >= 2.
        n_splits: S, an even number >= 2 of blocks. Defaults to `16`.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> noise = rng.standard_normal((1600, 10))
        >>> 0.2 < pbo(noise) < 0.8
        True
    """
    matrix = np.asarray(returns, dtype=float)
    if matrix.ndim != 2:
        raise InvalidParameter(f"Received an invalid value for `returns`, expected a T x N "
                               f"array, got {matrix.ndim} dimension(s).")
    if check_int("n_splits", n_splits, low=2, meaning="an even number of blocks") % 2:
        raise InvalidParameter(f"Received an invalid value for `n_splits`, expected an even "
                               f"number of blocks (half in sample, half out), got {n_splits!r}.")
    rows, configs = matrix.shape
    block = rows // n_splits
    if configs < 2 or block < 1:
        return None
    matrix = matrix[:block * n_splits]
    if not (matrix != matrix[0]).any():
        return None
    blocks = matrix.reshape(n_splits, block, configs)
    # Per-block sums let each half's mean and variance come from a few additions.
    sums = blocks.sum(axis=1)
    squares = (blocks**2).sum(axis=1)
    half = n_splits // 2
    everything = frozenset(range(n_splits))
    overfit = total = 0
    for chosen in itertools.combinations(range(n_splits), half):
        inside = list(chosen)
        outside = sorted(everything.difference(chosen))
        in_sharpe = _block_sharpe(sums[inside], squares[inside], half * block)
        out_sharpe = _block_sharpe(sums[outside], squares[outside], half * block)
        best = out_sharpe[int(np.argmax(in_sharpe))]
        rank = np.sum(out_sharpe < best) + (np.sum(out_sharpe == best) + 1) / 2
        omega = rank / (configs + 1)
        overfit += math.log(omega / (1 - omega)) <= 0
        total += 1
    return overfit / total


def effective_trials(returns):
    """How many distinct trials the N columns of `returns` amount to.

    N_eff = Σᵢ 1 / Σⱼ wᵢⱼ, wᵢⱼ = 1 for identical returns, else max(ρᵢⱼ, 0)² (0 when either
    does not vary): k identical configs count once, k configs correlated by ρ count
    k / (1 + (k − 1)·ρ²), anti-correlated ones count as distinct. `returns` is T × N; the
    result is in [1, N], None without columns.

    Example:
        >>> r = np.random.default_rng(0).standard_normal((500, 2))
        >>> round(effective_trials(np.column_stack([r, r[:, 0]])), 2)
        2.0
    """
    matrix = np.asarray(returns, dtype=float)
    if matrix.ndim != 2 or matrix.shape[1] == 0:
        return None
    deviation = matrix - matrix.mean(axis=0)
    norms = np.sqrt((deviation**2).sum(axis=0))
    varies = norms > 1e-15 * np.maximum(1.0, np.abs(matrix).max(axis=0))
    unit = np.where(varies, deviation / np.where(varies, norms, 1.0), 0.0)
    weight = np.clip(unit.T @ unit, 0.0, 1.0)**2
    columns = [matrix[:, i].tobytes() for i in range(matrix.shape[1])]
    identical = np.array([[a == b for b in columns] for a in columns])
    weight = np.where(identical, 1.0, weight)
    return float(np.sum(1.0 / weight.sum(axis=1)))


def _block_sharpe(sums, squares, count):
    """Per-config Sharpe ratio (ddof=1) of the rows the chosen blocks hold together."""
    total = sums.sum(axis=0)
    mean = total / count
    variance = (squares.sum(axis=0) - count * mean**2) / (count - 1) if count > 1 else 0 * mean
    std = np.sqrt(np.clip(variance, 0.0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        varies = std > 1e-15 * np.maximum(1.0, np.abs(mean))
        sharpe = np.where(varies, mean / std, np.sign(mean) * np.inf)
    return np.nan_to_num(sharpe, nan=0.0, posinf=np.inf, neginf=-np.inf)


def _normal_cdf(z):
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def _missing(value):
    return value is None or (isinstance(value, float) and not math.isfinite(value))
