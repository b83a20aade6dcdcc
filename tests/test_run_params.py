"""The broker and run params are declared once (`RUN_PARAMS`): the library's defaults, the
command's flags and the sweep's `[run]` table all follow that declaration."""

import inspect
import re

import pytest

from lstm_bt.cli import build_parser
from lstm_bt.errors import InvalidParameter
from lstm_bt.run.run_params import (BROKER_PARAMS, DEFAULTS, MAX_CASH, RUN_PARAMS,
                                    broker_params)
from lstm_bt.run.runner import run_backtest
from lstm_bt.sweeps.spec import load_spec

SPEC = {"data": {"files": ["a.csv"], "periods": [["2024-01-01", "2024-02-01"]]}}


def test_run_backtest_defaults_are_the_declared_ones():
    signature = inspect.signature(run_backtest).parameters
    assert {name: signature[name].default for name in RUN_PARAMS} == DEFAULTS


def test_every_declared_param_is_a_flag_showing_its_default():
    parser = build_parser(only=["backtest"])
    backtest = parser._subparsers._group_actions[0].choices["backtest"]
    actions = {action.dest: action for action in backtest._actions}
    for name, param in RUN_PARAMS.items():
        assert actions[name].option_strings == [f"--{name}"]
        assert f"(default: {param.default:g})" in actions[name].help


def test_the_sweep_run_table_takes_the_declared_defaults_and_checks():
    spec = load_spec(SPEC)
    assert spec.broker == {name: DEFAULTS[name] for name in BROKER_PARAMS}
    assert spec.seeds == (DEFAULTS["seed"],)
    with pytest.raises(InvalidParameter, match=r"\[run\].*`slippage`, expected a fraction"):
        load_spec({**SPEC, "run": {"slippage": 1}})
    with pytest.raises(InvalidParameter, match=r"\[run\].*`cash`, expected a positive amount"):
        load_spec({**SPEC, "run": {"cash": 1e308}})
    with pytest.raises(InvalidParameter, match=r"\[run\] has no key 'seed'.*Did you mean"):
        load_spec({**SPEC, "run": {"seed": 1}})


@pytest.mark.parametrize("given, message", [
    ({"cash": 0}, "`cash`, expected a positive amount"),
    ({"cash": float("inf")}, "`cash`"),
    ({"cash": 1e308}, "`cash`, expected a positive amount of quote currency up to 1e12"),
    ({"cash": MAX_CASH * (1 + 1e-15)}, "`cash`"),
    ({"commission": 1.0}, "`commission`, expected a fraction in [0, 1)"),
    ({"slippage": True}, "`slippage`"),
    ({"slippage": "0.1"}, "`slippage`"),
])
def test_broker_params_refuse_what_cannot_work_naming_it(given, message):
    with pytest.raises(InvalidParameter, match=re.escape(message)):
        broker_params(**{**{name: DEFAULTS[name] for name in BROKER_PARAMS}, **given})


def test_broker_params_are_floats():
    assert broker_params(5000, 0, 0) == {"cash": 5000.0, "commission": 0.0, "slippage": 0.0}
    assert broker_params(MAX_CASH, 0, 0)["cash"] == 1e12  # the bound itself is taken
    assert all(type(value) is float for value in broker_params(5000, 0, 0).values())
