"""Command-line flags generated from a strategy's backtrader `params`, and `--strategy-path`.

The flags are built from the params tuple itself, so a new strategy param is a new flag without
anyone editing the CLI. A user's subclass may add params the base class lacks; those are set with
`--param NAME=VALUE`, converted to the type of the param's default.
"""

import argparse
import importlib.util
import inspect
import math
import re
import sys
from pathlib import Path

from ..errors import InvalidParameter, did_you_mean
from ..run.run_params import RUN_PARAMS
from ..run.runner import RUN_MANAGED_PARAMS

__all__ = [
    "add_strategy_flags",
    "strategy_kwargs",
    "load_strategy_class",
    "finite_float",
    "as_flags",
]

_FLAG_TYPES = (bool, int, float, str, tuple)


def flag_params(strategy_class):
    """The `(name, default)` pairs of `strategy_class` that become flags, in declared order."""
    return [
        (name, default)
        for name, default in strategy_class.params._getitems()
        if name not in RUN_MANAGED_PARAMS and (default is None or type(default) in _FLAG_TYPES)
    ]


def add_strategy_flags(parser, strategy_class):
    """Add one `--kebab-name` flag per param of `strategy_class` to `parser`.

    Every flag defaults to "not given", so a subclass loaded with `--strategy-path` keeps its own
    defaults; the help shows the base class default and the param's documented meaning.
    """
    group = parser.add_argument_group(
        f"strategy params ({strategy_class.__name__}; a subclass's own params: --param NAME=VALUE)"
    )
    docs = param_docs(strategy_class)
    names = [name for name, _ in flag_params(strategy_class)] + ["start", *RUN_PARAMS]
    for name, default in flag_params(strategy_class):
        flag = _flag(name)
        doc = _plain_help(docs.get(name, ""), names).rstrip(".")
        note = _HELP_NOTES.get(name)
        help_text = f"{doc}{'; ' + note if note else ''} (default: {_shown(default)})"
        # argparse %-formats help strings: "0.1 %" must become "0.1 %%".
        help_text = help_text.strip().replace("%", "%%")
        if isinstance(default, bool):
            group.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction,
                               default=None, help=help_text)
        else:
            group.add_argument(flag, dest=name, type=_converter(default, name), default=None,
                               metavar=_metavar(default), help=help_text)
    group.add_argument(
        "--param", dest="extra_params", action="append", default=[], metavar="NAME=VALUE",
        help="set a param by name, e.g. one only your --strategy-path class has",
    )


def strategy_kwargs(args, strategy_class):
    """The params the user set on the command line, as keyword arguments for the strategy.

    Raises:
        InvalidParameter: a `--param` is malformed or names no param of `strategy_class`.
    """
    kwargs = {
        name: getattr(args, name)
        for name, _ in flag_params(strategy_class)
        if getattr(args, name, None) is not None
    }
    defaults = dict(strategy_class.params._getitems())
    settable = [name for name in defaults if name not in RUN_MANAGED_PARAMS]
    for item in args.extra_params:
        name, sep, text = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not name:
            raise InvalidParameter(
                f"Received an invalid value for `--param`: {item!r}; write NAME=VALUE, "
                "e.g. --param rsi_period=14."
            )
        if name in RUN_MANAGED_PARAMS:
            raise InvalidParameter(
                f"`--param {name}`: this param is set by the run itself; use --start and --seed."
            )
        if name not in settable:
            hint = did_you_mean(name, settable)
            raise InvalidParameter(
                f"`--param {name}`: {strategy_class.__name__} has no such param.{hint} "
                f"See `lstm-bt backtest --help` for the params."
            )
        try:
            kwargs[name] = _converter(defaults[name], name)(text)
        except argparse.ArgumentTypeError as error:
            raise InvalidParameter(
                f"Received an invalid value for `--param {name}`: {error}.") from None
        except ValueError:
            raise InvalidParameter(
                f"Received an invalid value for `--param {name}`: {text!r}; expected "
                f"{_metavar(defaults[name]).lower()} like its default "
                f"{_shown(defaults[name])}."
            ) from None
    return kwargs


def load_strategy_class(spec, base_class):
    """Load a `base_class` subclass from `FILE.py` or `FILE.py:ClassName`.

    Without a class name the file must define exactly one subclass of `base_class`.

    Raises:
        InvalidParameter: the file is missing, fails to import, or has no (or several)
            matching classes.
    """
    path_text, sep, class_name = str(spec).rpartition(":")
    if not sep or not class_name.isidentifier():
        path_text, class_name = str(spec), ""
    path = Path(path_text)
    if not path.is_file():
        raise InvalidParameter(
            f"--strategy-path {path}: no such file; give a .py file that defines a "
            f"{base_class.__name__} subclass, e.g. strategies/rsi_macd.py."
        )
    module_name = "lstm_bt_user_strategy_" + re.sub(r"\W", "_", path.stem)
    module_spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(module_spec)
    # Registered before running so dataclasses/pickling inside the user's file can find it.
    sys.modules[module_name] = module
    try:
        module_spec.loader.exec_module(module)
    except Exception as error:  # a user's file may fail in any way; report it in one line
        raise InvalidParameter(
            f"--strategy-path {path} failed to import: {type(error).__name__}: {error}"
        ) from None
    found = {
        name: value
        for name, value in vars(module).items()
        if inspect.isclass(value) and issubclass(value, base_class) and value is not base_class
        and value.__module__ == module_name
    }
    if class_name:
        if class_name not in found:
            raise InvalidParameter(
                f"--strategy-path {spec}: {path} defines no {base_class.__name__} subclass named "
                f"{class_name!r}; it defines {sorted(found) or 'none'}."
            )
        return found[class_name]
    if len(found) != 1:
        raise InvalidParameter(
            f"--strategy-path {path} defines {len(found)} {base_class.__name__} subclasses "
            f"({', '.join(sorted(found)) or 'none'}); define one, or pick one with FILE:ClassName."
        )
    return next(iter(found.values()))


def param_docs(strategy_class):
    """Each param's description: the model params' from the `Args:` blocks of
    `LSTMForecaster` and `WalkForward` (where they are declared), then the `Params:` blocks of
    the strategy's class docstrings.

    Reads Google-style entries (`name: text`, continued on deeper-indented lines); the
    trailing "Defaults to ..." is dropped, the flag's help shows the default itself.
    """
    from ..models import LSTMForecaster, WalkForward

    docs = {}
    blocks = [(cls, "Args:") for cls in (LSTMForecaster, WalkForward)]
    blocks += [(cls, "Params:") for cls in reversed(strategy_class.__mro__)]
    for cls, heading in blocks:
        _, found, rest = inspect.cleandoc(cls.__doc__ or "").partition(heading)
        if not found:
            continue
        name, entry_indent = None, None
        for line in rest.splitlines()[1:]:
            if not line.strip():
                continue
            indent = len(line) - len(line.lstrip())
            if indent == 0:
                break
            match = re.match(r"\s*[-*]?\s*`{0,2}(\w+)`{0,2}\s*(?:\([^)]*\))?:\s*(.*)$", line)
            if match and (entry_indent is None or indent <= entry_indent):
                name, entry_indent = match.group(1), indent
                docs[name] = match.group(2)
            elif name is not None:
                docs[name] += " " + line.strip()
    return {name: re.sub(r"\s*Defaults to .*$", "", text).strip() for name, text in docs.items()}


# What the help must add to a param's documentation, for the command line.
_HELP_NOTES = {
    "warm_epochs": "a warm fit runs min(--warm-epochs, --epochs) epochs",
}


def as_flags(text, flags):
    """`text` with each backticked name in `flags` (a mapping name -> flag) written as its
    flag: "`start` is after ..." -> "`--start` is after ...". Other text is left alone."""
    return re.sub(r"`(\w+)`", lambda match: f"`{flags[match.group(1)]}`"
                  if match.group(1) in flags else match.group(0), text)


def _flag(name):
    return "--" + name.replace("_", "-")


def _plain_help(text, names):
    """A docstring fragment as command-line help: Python literals as typed on the command
    line (`(64, 32)` -> 64,32, `"returns"` -> returns), params as their flags, no backticks."""
    def plain(match):
        code = match.group(1)
        widths = re.fullmatch(r"\(\s*(\d+(?:\s*,\s*\d+)*)\s*,?\s*\)", code)
        if widths:
            return ",".join(re.split(r"\s*,\s*", widths.group(1)))
        code = re.sub(r"^\"(.*)\"$", r"\1", code)
        return re.sub(r"\b[a-z_][a-z0-9_]*\b",
                      lambda word: _flag(word.group(0)) if word.group(0) in names
                      else word.group(0), code)

    # Two examples side by side read as alternatives: `(64,)`, `(64, 32)` -> 64 or 64,32.
    text = re.sub(r"(`[^`]+`), (`[^`]+`)(?=\)|$|\s|[.;])", r"\1 or \2", text)
    return re.sub(r"`([^`]*)`", plain, text)


def finite_float(text):
    """argparse type: a float that is a real number (not nan, inf or -inf)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number like 0.001, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _converter(default, name):
    if isinstance(default, bool):
        return _boolean
    if isinstance(default, int):
        return int
    if isinstance(default, float):
        return finite_float
    if isinstance(default, tuple):
        from ..models.forecaster import LAYER_WIDTHS

        return _layer_widths_type(LAYER_WIDTHS.get(name, 0))
    if default is None:
        return _literal
    return _number_or_text


def _number_or_text(text):
    """A value for a param whose default is text, which may also take a number (`threshold`:
    `cost` or `0.002`); a number must be finite."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        float(text)
    except ValueError:
        return text
    return finite_float(text)


def _metavar(default):
    if isinstance(default, bool):
        return "BOOL"
    return {int: "INT", float: "FLOAT", tuple: "N[,N...]"}.get(type(default), "VALUE")


def _boolean(text):
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(text)


def _shown(default):
    if isinstance(default, tuple):
        return ",".join(map(str, default)) or "none"
    if default is None:
        return "none"
    return default


def _layer_widths_type(fewest=0):
    """argparse type: layer widths such as `64` or `64,32`, each from 1 to `MAX_LAYER_WIDTH`;
    `none` (or nothing) is no layers, refused where `fewest` layers are needed. The messages
    show the flag's own syntax, not the Python tuple the library's would."""
    from ..models.forecaster import MAX_LAYER_WIDTH

    def layer_widths(text):
        text = text.replace(" ", "")
        widths = () if text.lower() in ("", "none") else text.split(",")
        # ASCII digits only: str.isdigit() also takes "²", which int() refuses.
        if (len(widths) < fewest
                or not all(re.fullmatch(r"[0-9]+", width) and 1 <= int(width) <= MAX_LAYER_WIDTH
                           for width in widths)):
            raise argparse.ArgumentTypeError(
                f"expected {'at least one layer width' if fewest else 'layer widths'} from 1 "
                f"to {MAX_LAYER_WIDTH} like 64 or 64,32{'' if fewest else ' (or none)'}, "
                f"got {text!r}")
        return tuple(int(width) for width in widths)

    return layer_widths


def _literal(text):
    """A value for a param whose default is None: a number, a boolean, none, or text."""
    for convert in (int, float, _boolean):
        try:
            return convert(text)
        except ValueError:
            pass
    return None if text.strip().lower() == "none" else text
