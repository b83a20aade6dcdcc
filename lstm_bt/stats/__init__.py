"""Pure maths over arrays: performance metrics of one run, statistics for many trials."""

from .forecasts import (FORECAST_KEYS, best_naive_rule, binomial_p_greater, direction_hits,
                        forecast_skill, information_coefficient)
from .overfitting import (EULER_GAMMA, deflated_sharpe_ratio, effective_trials,
                          expected_max_sharpe, pbo, probabilistic_sharpe_ratio, return_moments)
from .performance import (METRIC_KEYS, TRADE_STAT_KEYS, cagr_pct, calmar_ratio, compute_metrics,
                          cvar_95_pct, max_drawdown, monthly_returns, per_bar_rate, sharpe_ratio,
                          simple_returns, sortino_ratio, trade_stats, var_95_pct, volatility_pct)

__all__ = [
    "METRIC_KEYS", "TRADE_STAT_KEYS", "FORECAST_KEYS", "EULER_GAMMA",
    "simple_returns", "per_bar_rate", "sharpe_ratio", "sortino_ratio", "volatility_pct",
    "max_drawdown", "cagr_pct", "calmar_ratio", "var_95_pct", "cvar_95_pct", "trade_stats",
    "monthly_returns", "compute_metrics", "binomial_p_greater", "forecast_skill",
    "direction_hits", "best_naive_rule", "information_coefficient",
    "probabilistic_sharpe_ratio", "deflated_sharpe_ratio", "expected_max_sharpe",
    "return_moments", "pbo", "effective_trials",
]
