"""PSR, DSR and PBO against worked examples and matrices whose answer is known."""

import itertools
import math

import numpy as np
import pytest
from scipy.stats import kurtosis as scipy_kurtosis
from scipy.stats import norm, rankdata
from scipy.stats import skew as scipy_skew

from lstm_bt import stats
from lstm_bt.stats.overfitting import (
    deflated_sharpe_ratio,
    effective_trials,
    expected_max_sharpe,
    pbo,
    probabilistic_sharpe_ratio,
    return_moments,
)


def test_stats_re_exports_the_overfitting_functions():
    assert stats.pbo is pbo
    assert stats.deflated_sharpe_ratio is deflated_sharpe_ratio
    assert stats.probabilistic_sharpe_ratio is probabilistic_sharpe_ratio
    assert stats.effective_trials is effective_trials


def test_dsr_matches_the_worked_example_of_bailey_and_lopez_de_prado_2014():
    # "The Deflated Sharpe Ratio" (JPM 2014), numerical example: an annualized Sharpe of 2.5
    # over 5 years of daily returns (T = 1250), N = 100 trials whose annualized Sharpe ratios
    # have variance 0.5, returns with skewness -3 and kurtosis 10. The paper finds the expected
    # maximum SR0 = 0.1132 (per day) and DSR = 0.9004.
    sharpe, variance = 2.5 / math.sqrt(250), 0.5 / 250
    assert expected_max_sharpe(100, variance) == pytest.approx(0.1132, abs=5e-5)
    assert deflated_sharpe_ratio(sharpe, 1250, -3.0, 10.0, 100, variance) == pytest.approx(
        0.9004, abs=5e-5)


def test_psr_by_hand():
    # z = 0.1 * sqrt(250) / sqrt(1 - 0 + (3 - 1) / 4 * 0.01) = 1.577206...
    z = 0.1 * math.sqrt(250) / math.sqrt(1.005)
    assert probabilistic_sharpe_ratio(0.1, 251, 0.0, 3.0) == pytest.approx(norm.cdf(z), abs=1e-12)
    # Against a benchmark equal to the observed Sharpe: exactly one half.
    assert probabilistic_sharpe_ratio(0.1, 251, -1.0, 8.0, benchmark=0.1) == 0.5


def test_psr_rises_with_sharpe_and_track_length_and_falls_with_fat_left_tails():
    low, high = (probabilistic_sharpe_ratio(s, 500, 0.0, 3.0) for s in (0.02, 0.05))
    assert low < high
    short, long = (probabilistic_sharpe_ratio(0.03, n, 0.0, 3.0) for n in (100, 5000))
    assert short < long
    normal, skewed = (probabilistic_sharpe_ratio(0.05, 500, g3, g4)
                      for g3, g4 in ((0.0, 3.0), (-2.0, 12.0)))
    assert skewed < normal
    assert probabilistic_sharpe_ratio(0.05, 10**7, 0.0, 3.0) == pytest.approx(1.0)
    assert probabilistic_sharpe_ratio(-0.05, 10**7, 0.0, 3.0) == pytest.approx(0.0)


def test_dsr_with_one_trial_is_psr_against_zero_and_falls_as_trials_grow():
    assert deflated_sharpe_ratio(0.05, 800, 0.1, 4.0, 1, None) == probabilistic_sharpe_ratio(
        0.05, 800, 0.1, 4.0)
    values = [deflated_sharpe_ratio(0.08, 800, 0.0, 3.0, n, 0.001) for n in (2, 10, 100, 1000)]
    assert values == sorted(values, reverse=True)
    assert values[0] < probabilistic_sharpe_ratio(0.08, 800, 0.0, 3.0)


@pytest.mark.parametrize("call", [
    lambda: probabilistic_sharpe_ratio(None, 100, 0.0, 3.0),
    lambda: probabilistic_sharpe_ratio(0.1, 1, 0.0, 3.0),
    lambda: probabilistic_sharpe_ratio(0.1, 100, 0.0, float("nan")),
    lambda: probabilistic_sharpe_ratio(2.0, 100, 5.0, 1.0),  # variance term 1 - 10 + 0 < 0
    lambda: deflated_sharpe_ratio(0.1, 100, 0.0, 3.0, 0, 0.01),
    lambda: deflated_sharpe_ratio(0.1, 100, 0.0, 3.0, 5, None),
], ids=["no-sharpe", "one-return", "nan-kurtosis", "negative-variance", "no-trials",
        "no-variance"])
def test_undefined_inputs_give_none(call):
    assert call() is None


def test_return_moments_are_population_moments_and_none_without_variance():
    r = np.random.default_rng(3).standard_t(5, 400) * 0.01
    sharpe, n, skew, kurtosis = return_moments(r)
    assert n == 400
    assert sharpe == pytest.approx(r.mean() / r.std(ddof=1))
    assert skew == pytest.approx(scipy_skew(r, bias=True))
    assert kurtosis == pytest.approx(scipy_kurtosis(r, fisher=False, bias=True))
    assert return_moments(np.full(50, 0.001)) == (None, 50, None, None)


def test_pbo_of_a_tiny_matrix_by_hand():
    # S = 2 blocks of 2 rows; the fifth row is the remainder and must be dropped (it would
    # make config 0 the out-of-sample winner in both splits).
    # Config 0: block 0 = [.01, .03] (SR 1.414), block 1 = [-.01, -.03] (SR -1.414).
    # Config 1: both blocks [0, .02] (SR 0.707).
    # Split "block 0 in-sample": config 0 wins, ranks 1 of 2 out of sample: w = 1/3, overfit.
    # Split "block 1 in-sample": config 1 wins, ranks 1 of 2 out of sample: overfit. PBO = 1.
    flip = np.array([[0.01, 0.0], [0.03, 0.02], [-0.01, 0.0], [-0.03, 0.02], [9.0, -9.0]])
    assert pbo(flip, n_splits=2) == 1.0
    # Config 1 raised to [.02, .04] in both blocks (SR 2.12) wins in-sample and out: PBO = 0.
    steady = flip.copy()
    steady[:4, 1] += 0.02
    assert pbo(steady, n_splits=2) == 0.0


def test_pbo_counts_a_winner_landing_exactly_on_the_median_as_overfit():
    # N = 3, S = 2. Per block, SR of [a, b] is mean / (|b - a| / sqrt 2):
    # config 0: block 0 [.01, .03] SR 1.414, block 1 [0, .02] SR 0.707;
    # config 1: the same blocks swapped; config 2: [-.01, .01] in both, SR 0.
    # Each split's in-sample winner ranks 2 of 3 out of sample: w = 2/4, lambda = 0 <= 0.
    one, two, flat = [0.01, 0.03], [0.0, 0.02], [-0.01, 0.01]
    returns = np.array([one + two, two + one, flat + flat]).T
    assert pbo(returns, n_splits=2) == 1.0


def test_pbo_of_pure_noise_is_about_one_half():
    # Under no skill the in-sample winner's out-of-sample rank is uniform: PBO's expectation
    # is 1/2 (exactly: ranks 1..5 of 10 count). One matrix's PBO is noisy, so average 40
    # (fixed seeds); the mean's standard error is about 0.04, the tolerance 0.1.
    values = [pbo(np.random.default_rng(seed).standard_normal((400, 10)), n_splits=8)
              for seed in range(40)]
    assert abs(np.mean(values) - 0.5) < 0.1


def test_pbo_with_a_planted_edge_is_near_zero():
    returns = np.random.default_rng(11).standard_normal((1600, 10)) * 0.01
    returns[:, 4] += 0.004  # an edge of 0.4 standard deviations a bar, in every block
    assert pbo(returns) <= 0.05


def _reference_pbo(returns, n_splits):
    """CSCV written out as pypbo writes it: blocks of T // S rows, Sharpe per half, the first
    top in-sample config, scipy's average ranks out of sample."""
    block = len(returns) // n_splits
    blocks = [returns[i * block:(i + 1) * block] for i in range(n_splits)]
    logits = []
    for inside in itertools.combinations(range(n_splits), n_splits // 2):
        outside = [i for i in range(n_splits) if i not in inside]
        halves = [np.concatenate([blocks[i] for i in part]) for part in (inside, outside)]
        sharpe_in, sharpe_out = (h.mean(axis=0) / h.std(axis=0, ddof=1) for h in halves)
        rank = rankdata(sharpe_out)[np.argmax(sharpe_in)]
        omega = rank / (returns.shape[1] + 1)
        logits.append(math.log(omega / (1 - omega)))
    return float(np.mean(np.array(logits) <= 0))


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("rows", [64, 67])
def test_pbo_equals_pypbos_cscv_with_ties_at_their_average_rank(seed, rows):
    # Six noise configs and four exact duplicates of them (the 6 + 4: ties in every
    # split), T a multiple of S (64: the last block must end on the last row) or not (67).
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((rows, 6)) * 0.01
    returns = np.column_stack([noise, noise[:, [0, 2, 3, 5]]])
    assert pbo(returns, n_splits=8) == _reference_pbo(returns, 8)


def test_pbo_of_a_tie_out_of_sample_by_hand():
    # N = 3, S = 2. Block 0: config 0 [.01, .03] (SR 1.414) beats config 1 [0, .02] (0.707)
    # and config 2 [-.01, .01] (0). Block 1: configs 0 and 1 both [0, .02], config 2 as before.
    # In = block 0: config 0 wins, ties config 1 out of sample: average rank 2.5, w = 0.625, not
    # overfit (ranked at the lower end, 2, it would be w = 0.5: overfit). In = block 1: config
    # 0 wins (the first of the tie) and is the best out of sample. PBO = 0, not 0.5.
    returns = np.array([[0.01, 0.0, -0.01], [0.03, 0.02, 0.01],
                        [0.0, 0.0, -0.01], [0.02, 0.02, 0.01]])
    assert pbo(returns, n_splits=2) == 0.0


def test_pbo_cuts_blocks_of_t_over_s_rows_and_drops_only_the_remainder():
    # T = 4, S = 2: blocks are rows 0-1 and 2-3. Config 0 wins block 0 and loses block 1,
    # config 1 the reverse: each split's winner is the worst out of sample, PBO = 1. With blocks
    # of (T - 1) // S = 1 row the halves hold a single row and no Sharpe ratio is defined.
    returns = np.array([[0.01, -0.02], [0.03, -0.01], [-0.02, 0.01], [-0.01, 0.03]])
    assert pbo(returns, n_splits=2) == 1.0


def test_pbo_is_none_when_no_config_varies():
    assert pbo(np.zeros((100, 3))) is None  # nothing traded anywhere
    assert pbo(np.full((100, 3), 0.001)) is None


def test_a_config_that_is_flat_in_a_half_has_sharpe_zero_there():
    # Config 1 never trades: Sharpe 0 in both halves, not -inf. Config 0 gains in block 0
    # ([.01, .03], SR 1.41) and loses in block 1 ([-.03, -.01], SR -1.41). In = block 0 picks
    # config 0, below the flat config out of sample; in = block 1 picks the flat config, below
    # config 0 out of sample: both overfit. (With -inf for the flat config, neither would be.)
    returns = np.array([[0.01, 0.0], [0.03, 0.0], [-0.03, 0.0], [-0.01, 0.0]])
    assert pbo(returns, n_splits=2) == 1.0


def test_pbo_undefined_or_refused():
    assert pbo(np.zeros((100, 1))) is None
    assert pbo(np.ones((10, 3)), n_splits=16) is None
    with pytest.raises(ValueError, match="n_splits"):
        pbo(np.zeros((100, 3)), n_splits=5)
    with pytest.raises(ValueError, match="T x N"):
        pbo(np.zeros(100))


def test_effective_trials_counts_identical_configs_once_and_independent_ones_fully():
    rng = np.random.default_rng(5)
    a, b, c = rng.standard_normal((3, 20_000))
    assert effective_trials(np.column_stack([a, a, a])) == 1.0
    # Groups of 3, 1 and 2 identical configs: three trials.
    grouped = np.column_stack([a, a, a, b, c, c])
    assert effective_trials(grouped) == pytest.approx(3.0, abs=0.01)
    assert effective_trials(np.column_stack([a, b, c])) == pytest.approx(3.0, abs=0.01)
    # A bet and its reverse are two choices, not one.
    assert effective_trials(np.column_stack([a, -a])) == 2.0
    # Configs that never trade are identical to each other: one trial.
    flat = np.zeros(20_000)
    assert effective_trials(np.column_stack([flat, flat, a])) == pytest.approx(2.0)


def test_effective_trials_of_equicorrelated_configs_is_their_participation_ratio():
    # k configs correlated by rho with each other: k / (1 + (k - 1) rho^2), which is also
    # N^2 / sum of squared eigenvalues of their correlation matrix.
    rng = np.random.default_rng(6)
    common, own = rng.standard_normal(50_000), rng.standard_normal((50_000, 4))
    returns = 0.6 * common[:, None] + 0.8 * own  # rho = 0.36
    rho = np.corrcoef(returns, rowvar=False)
    eigen = np.linalg.eigvalsh(rho)
    assert effective_trials(returns) == pytest.approx(4 / (1 + 3 * 0.36**2), abs=0.02)
    assert effective_trials(returns) == pytest.approx(16 / np.sum(eigen**2), abs=0.02)
    assert effective_trials(np.empty((10, 0))) is None


def test_dsr_accepts_an_effective_number_of_trials():
    # Between one and two trials the expected best is floored at one trial's, SR0 = 0.
    assert expected_max_sharpe(1.0, 0.01) == expected_max_sharpe(1.2, 0.01) == 0.0
    assert deflated_sharpe_ratio(0.05, 800, 0.1, 4.0, 1.2, 0.01) == probabilistic_sharpe_ratio(
        0.05, 800, 0.1, 4.0)
    values = [deflated_sharpe_ratio(0.08, 800, 0.0, 3.0, n, 0.001) for n in (2.0, 2.5, 3.0)]
    assert values == sorted(values, reverse=True) and len(set(values)) == 3
