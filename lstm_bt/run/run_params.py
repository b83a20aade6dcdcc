"""The broker and run params of a backtest, declared once: `run_backtest`'s defaults, the
command's flags, `--from`'s merge and a sweep's `[run]` table all come from `RUN_PARAMS`."""

import numbers
from dataclasses import dataclass

from ..errors import InvalidParameter
from ..models.forecaster import MAX_SEED

__all__ = ["RunParam", "RUN_PARAMS", "BROKER_PARAMS", "DEFAULTS", "MAX_CASH", "broker_params"]

# The most starting cash a run takes: more than any account holds, and small enough that the
# equity, in 64-bit floats, keeps its cents while it grows up to 70-fold (2**46 ~ 7e13) and
# that no metric or plot built from it overflows.
MAX_CASH = 1e12


@dataclass(frozen=True)
class RunParam:
    """One broker or run param: its `name` (keyword, flag, report key), `default` (whose type
    is the param's), flag `help` and `metavar`, and what it accepts (`expected` in words,
    `accepts` as a test of a number)."""

    name: str
    default: object
    help: str
    metavar: str
    expected: str
    accepts: object

    def check(self, value):
        """`value` as the param's type; `InvalidParameter` naming it unless it is accepted."""
        kind = numbers.Integral if isinstance(self.default, int) else numbers.Real
        if isinstance(value, bool) or not isinstance(value, kind) or not self.accepts(value):
            raise InvalidParameter(f"Received an invalid value for `{self.name}`, expected "
                                   f"{self.expected}, got {value!r}.")
        return type(self.default)(value)


RUN_PARAMS = {param.name: param for param in (
    RunParam("cash", 10_000.0, "starting cash in the quote currency, e.g. USDT, at most 1e12",
             "AMOUNT",
             "a positive amount of quote currency up to 1e12 (more than any account; larger "
             "amounts lose their cents in 64-bit floats), e.g. 10000",
             lambda v: 0 < v <= MAX_CASH),
    RunParam("commission", 0.001, "fee per trade as a fraction of its value; the default is "
             "Binance's spot taker fee", "FRACTION", "a fraction in [0, 1), e.g. 0.001",
             lambda v: 0 <= v < 1),
    RunParam("slippage", 0.0, "fills worse than the price by this fraction, e.g. 0.0005",
             "FRACTION", "a fraction in [0, 1), e.g. 0.0005", lambda v: 0 <= v < 1),
    RunParam("seed", 0, f"seeds the model, 0 to {MAX_SEED}: the same data, params and seed "
             "give identical forecasts and trades", "N", f"an integer from 0 to {MAX_SEED}",
             lambda v: 0 <= v <= MAX_SEED),
)}
BROKER_PARAMS = ("cash", "commission", "slippage")
DEFAULTS = {name: param.default for name, param in RUN_PARAMS.items()}


def broker_params(cash, commission, slippage):
    """The broker settings as a dict of floats; `InvalidParameter` naming the first that
    cannot work."""
    given = {"cash": cash, "commission": commission, "slippage": slippage}
    return {name: RUN_PARAMS[name].check(value) for name, value in given.items()}
