"""The sweep spec: read a TOML file (or a dict like it), check it, and write it back.

```toml
[data]      symbols = [...] (through the kline store) or files = [...]; interval; periods
[run]       seeds, cash, commission, slippage
[model]     model params: each combination is a walk-forward, it trains
[trading]   trading params: each combination replays the walk-forward's forecasts
```

A param missing from the spec takes its default; a scalar is one value, a list is the values
swept. `units`/`dense_units` take a list of widths as one value (`units = [64, 32]`) and a
list of such lists as the values swept (`units = [[32], [64, 32]]`).

Each value is one trial, so a value spelt twice (`0` and `0.0`; `"2024-01-01"` and
`"2024-01-01T00:00"`) is refused, and a grid of more than `max_cells` cells is refused before
it is built.
"""

import itertools
import math
import numbers
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import InvalidParameter, check_int, did_you_mean

__all__ = ["SweepSpec", "load_spec", "spec_to_toml", "model_param_names",
           "trading_param_names", "MAX_CELLS"]

# The most cells a sweep plans unless asked for more (`max_cells`, `--max-cells`): planning
# 100,000 cells takes seconds and a few hundred MB; 10 params of 10 values would never end.
MAX_CELLS = 100_000

_TABLES = ("data", "run", "model", "trading")
_DATA_KEYS = ("symbols", "files", "interval", "periods")
_WIDTH_PARAMS = ("units", "dense_units")
_EXAMPLE_PERIODS = 'periods = [["2024-01-01", "2025-01-01"]]'


def trading_param_names():
    """Strategy params that only turn forecasts into orders (replayed, never trained)."""
    from ..strategies import LSTMStrategy

    return sorted(LSTMStrategy.trading_params)


def model_param_names():
    """Walk-forward params that change the forecasts (each combination trains); the seed is
    swept by `[run] seeds`."""
    from ..models import WalkForward

    return [name for name in WalkForward.param_defaults() if name != "seed"]


@dataclass(frozen=True)
class SweepSpec:
    """A checked spec.

    Attributes:
        symbols: Binance symbols read through the kline store (empty with `files`).
        files: kline files (empty with `symbols`).
        interval: the Binance interval (None: inferred from each file).
        periods: (start, end) naive UTC date strings (`2024-01-01`, `2024-01-01T12:00`; an
            offset in the spec is converted), start inclusive, end exclusive.
        seeds: model seeds.
        broker: `cash`, `commission`, `slippage`.
        model: model param -> list of values swept (one value: not swept).
        trading: trading param -> list of values swept.
        source: the spec as a plain dict (what `spec.toml` holds).
    """

    symbols: tuple
    files: tuple
    interval: str
    periods: tuple
    seeds: tuple
    broker: dict
    model: dict
    trading: dict
    source: dict

    @property
    def swept(self):
        """Names of the params with more than one value, model params first."""
        return [name for name, values in {**self.model, **self.trading}.items()
                if len(values) > 1]

    def model_configs(self):
        """Every combination of the model params, as dicts (the spec's own order)."""
        return _product(self.model)

    def trading_configs(self):
        """Every combination of the trading params, as dicts."""
        return _product(self.trading)

    @property
    def n_model_configs(self):
        """The number of model combinations (walk-forwards per symbol, period and seed)."""
        return math.prod(len(values) for values in self.model.values())

    @property
    def n_trading_configs(self):
        """The number of trading combinations (replays of each walk-forward)."""
        return math.prod(len(values) for values in self.trading.values())

    @property
    def n_configs(self):
        """The number of configs: the trials N."""
        return self.n_model_configs * self.n_trading_configs

    @property
    def n_cells(self):
        """The number of cells: configs x symbols (or files) x periods x seeds."""
        return (self.n_configs * len(self.symbols or self.files) * len(self.periods)
                * len(self.seeds))

    def data_grid(self):
        """What each config runs on, in words: `2 files x 3 periods x 3 seeds`."""
        sources = len(self.symbols or self.files)
        return (f"{sources} {'symbol' if self.symbols else 'file'}{'s' * (sources != 1)} x "
                f"{len(self.periods)} period{'s' * (len(self.periods) != 1)} x "
                f"{len(self.seeds)} seed{'s' * (len(self.seeds) != 1)}")


def load_spec(spec, max_cells=None):
    """Read and check a sweep spec.

    Args:
        spec: a path to a TOML file, or a dict of the same tables.
        max_cells: the most cells the spec may make (counted before any is built). Defaults
            to `None`: `MAX_CELLS`.

    Returns:
        A `SweepSpec`.

    Raises:
        InvalidParameter: the spec cannot run; the message names the key and the fix.
    """
    if isinstance(spec, (str, Path)):
        source = _read_toml(Path(spec))
    elif isinstance(spec, dict):
        source = _python_values(spec)
    else:
        raise InvalidParameter(
            f"Received an invalid sweep spec, expected a path to a TOML file or a dict, got "
            f"{type(spec).__name__}.")
    max_cells = check_int("max_cells", MAX_CELLS if max_cells is None else max_cells, low=1,
                          meaning="the most cells a sweep plans")
    for table in source:
        if table not in _TABLES:
            raise InvalidParameter(
                f"The sweep spec has no table [{table}].{did_you_mean(table, _TABLES)} "
                f"Use [data], [run], [model] and [trading].")
        if not isinstance(source[table], dict):
            raise InvalidParameter(f"[{table}] must be a table of keys, got "
                                   f"{type(source[table]).__name__}.")
    data = dict(source.get("data", {}))
    run = dict(source.get("run", {}))
    symbols, files, interval, periods = _data(data)
    seeds, broker = _run(run)
    model = _params("model", source.get("model", {}), model_param_names(),
                    trading_param_names(), "trading")
    trading = _params("trading", source.get("trading", {}), trading_param_names(),
                      model_param_names(), "model")
    checked = SweepSpec(symbols=symbols, files=files, interval=interval, periods=periods,
                        seeds=seeds, broker=broker, model=model, trading=trading,
                        source=_plain(source))
    _check_size(checked, max_cells)
    _check_configs(checked)
    _check_warmup(checked)
    return checked


def _check_size(spec, max_cells):
    """Refuse a grid above `max_cells`, counted from the value counts (nothing is built)."""
    cells = spec.n_cells
    if cells <= max_cells:
        return
    raise InvalidParameter(
        f"The spec makes {cells:,} cells ({spec.n_configs:,} configs x {spec.data_grid()}), "
        f"above the limit of {max_cells:,}; sweep fewer values, or raise the limit with "
        f"--max-cells {cells} (max_cells={cells} in Python).")


def _check_warmup(spec):
    """Refuse a warm-up that reaches back before 1970 (symbols: read from Binance by date)."""
    if not spec.symbols:
        return  # a file's warm-up is counted in rows: too few is a cell's data error
    from ..run.backtest_data import history_start
    from ..data.dates import parse_date
    from .cell import required_history

    start = min(parse_date(start) for start, _ in spec.periods)
    # The warm-up is a sum of these params: its longest is theirs at their largest.
    longest = {name: max(value for value in spec.model[name] if value is not None)
               for name in ("train_window", "seq_len", "input_warmup")
               if any(value is not None for value in spec.model.get(name, ()))}
    try:
        history_start(start, required_history(longest), spec.interval,
                      "`train_window` or `seq_len` in [model]")
    except InvalidParameter as error:
        shown = ", ".join(f"{name} = {value}" for name, value in longest.items())
        raise InvalidParameter(f"[model] {shown or 'the defaults'}: {error}") from None


def _python_values(value):
    """A spec dict with NumPy scalars as the Python values they hold and arrays as lists, so
    `np.int64(8)` and `8` are one value (to the duplicate check, the configs and the TOML)."""
    if isinstance(value, dict):
        return {key: _python_values(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_python_values(item) for item in value]
    if type(value).__module__ == "numpy" and hasattr(value, "tolist"):
        return _python_values(value.tolist())  # np.int64 -> int, np.ndarray -> list
    return value


def spec_to_toml(source):
    """A spec dict as TOML text (tables of scalars and nested lists: what a spec holds)."""
    lines = []
    for table in _TABLES:
        if table not in source:
            continue
        lines.append(f"[{table}]")
        lines.extend(f"{key} = {_toml_value(value)}" for key, value in source[table].items())
        lines.append("")
    return "\n".join(lines)


def _read_toml(path):
    import tomllib

    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise InvalidParameter(f"Sweep spec {path} not found; give the path of a TOML file "
                               "(see README, 'Sweeps').") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidParameter(f"Cannot read sweep spec {path}: {error}.") from None
    except tomllib.TOMLDecodeError as error:
        raise InvalidParameter(f"Sweep spec {path} is not valid TOML: {error}. Fix that line."
                               ) from None


def _data(data):
    for key in data:
        if key not in _DATA_KEYS:
            raise InvalidParameter(f"[data] has no key {key!r}.{did_you_mean(key, _DATA_KEYS)} "
                                   f"Use {', '.join(_DATA_KEYS)}.")
    symbols = _strings("data", "symbols", data.get("symbols", []))
    files = _strings("data", "files", data.get("files", []))
    if bool(symbols) == bool(files):
        raise InvalidParameter(
            "[data] needs either `symbols` (read through the kline store, e.g. symbols = "
            "[\"BTCUSDT\"]) or `files` (kline CSV/ZIP paths), not both and not neither.")
    interval = data.get("interval")
    if symbols and interval is None:
        raise InvalidParameter('[data] `interval` is missing; set it, e.g. interval = "1h".')
    if interval is not None:
        from ..data.intervals import get_interval

        interval = get_interval(interval).name
    if "periods" not in data:
        raise InvalidParameter(f"[data] `periods` is missing; set it, e.g. {_EXAMPLE_PERIODS} "
                               "(start inclusive, end exclusive).")
    periods = _periods(data["periods"])
    _refuse_twice("data", "symbols", symbols, symbols)
    _refuse_twice("data", "files", files,
                  [os.path.normcase(os.path.abspath(path)) for path in files])
    return tuple(symbols), tuple(files), interval, periods


def _periods(value):
    from ..data.dates import check_range, parse_date

    if not isinstance(value, list) or not value:
        raise InvalidParameter(f"[data] `periods` must be a list of [start, end] pairs, e.g. "
                               f"{_EXAMPLE_PERIODS}; got {value!r}.")
    periods = []
    for pair in value:
        if not (isinstance(pair, list) and len(pair) == 2
                and all(isinstance(x, str) for x in pair)):
            raise InvalidParameter(f"[data] `periods` holds {pair!r}; each period is a pair of "
                                   f"date strings [start, end], e.g. {_EXAMPLE_PERIODS}.")
        # Read as the command reads --start/--end: an offset (Z, +05:00) converted to UTC.
        start, end = (parse_date(pair[0], "periods start"), parse_date(pair[1], "periods end"))
        check_range(start, end, "periods start", "periods end")
        periods.append((_date_text(start), _date_text(end)))
    _refuse_twice("data", "periods", value, periods,
                  [f"the period {start} to {end} (UTC)" for start, end in periods])
    return tuple(periods)


def _date_text(moment):
    """A naive UTC datetime as the spec's date text: `2024-01-01`, `2024-01-01T12:00`."""
    if moment.time() == moment.min.time():
        return f"{moment:%Y-%m-%d}"
    if not (moment.second or moment.microsecond):
        return f"{moment:%Y-%m-%dT%H:%M}"
    return moment.isoformat()


def _refuse_twice(table, key, values, normals, shown=None):
    """Refuse `values` when two of them have the same normal form (`normals`, in order): one
    value is one trial. `shown`: how to name each value (default: as TOML writes it)."""
    seen = {}
    for index, (value, normal) in enumerate(zip(values, normals)):
        if normal in seen:
            spelt = (f" (as {_toml_value(seen[normal])} and {_toml_value(value)})"
                     if _toml_value(seen[normal]) != _toml_value(value) else "")
            what = shown[index] if shown else _toml_value(value)
            raise InvalidParameter(
                f"[{table}] `{key}` lists {what} twice{spelt}: each value is one trial (a "
                f"repeat inflates the N of DSR and PBO); list each value once.")
        seen[normal] = value


def _run(run):
    from ..run.run_params import BROKER_PARAMS, DEFAULTS, RUN_PARAMS, broker_params

    keys = ("seeds", *BROKER_PARAMS)
    for key in run:
        if key not in keys:
            raise InvalidParameter(f"[run] has no key {key!r}.{did_you_mean(key, keys)}"
                                   f" Use {', '.join(keys)}.")
    seeds = run.get("seeds", [DEFAULTS["seed"]])
    seeds = seeds if isinstance(seeds, list) else [seeds]
    seed = RUN_PARAMS["seed"]
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) and seed.accepts(s)
                            for s in seeds) or len(set(seeds)) != len(seeds):
        raise InvalidParameter(f"[run] `seeds` must be distinct integers, each {seed.expected}, "
                               f"e.g. seeds = [0, 1, 2]; got {run.get('seeds')!r}.")
    try:
        broker = broker_params(**{name: run.get(name, DEFAULTS[name]) for name in BROKER_PARAMS})
    except InvalidParameter as error:
        raise InvalidParameter(f"[run] {error}") from None
    return tuple(seeds), broker


def _params(table, given, allowed, other, other_table):
    params = {}
    for name, value in given.items():
        if name not in allowed:
            if name in other:
                why = ("model params train" if other_table == "model"
                       else "trading params only replay forecasts")
                raise InvalidParameter(f"[{table}] `{name}` is a {other_table} param; move it "
                                       f"to [{other_table}] ({why}).")
            raise InvalidParameter(f"[{table}] has no param {name!r}."
                                   f"{did_you_mean(name, allowed)}")
        values = _values(name, value)
        if not values:
            raise InvalidParameter(f"[{table}] `{name}` is an empty list; give at least one value.")
        _refuse_twice(table, name, values, [_same(value) for value in values])
        params[name] = values
    return params


def _values(name, value):
    """The values swept for one param (a scalar is one value; widths are lists themselves)."""
    if name in _WIDTH_PARAMS:
        if isinstance(value, list) and value and all(isinstance(v, list) for v in value):
            return [tuple(v) for v in value]
        return [tuple(value) if isinstance(value, list) else value]
    return list(value) if isinstance(value, list) else [value]


def _check_configs(spec):
    from ..strategies import LSTMStrategy

    for name, values in {**spec.model, **spec.trading}.items():
        for value in values:
            try:
                LSTMStrategy.check_params(**{name: value, **_schedule_partner(spec, name)})
            except InvalidParameter as error:
                table = "model" if name in spec.model else "trading"
                raise InvalidParameter(f"[{table}] {name} = {_toml_value(value)}: {error}"
                                       ) from None
    for model in spec.model_configs():
        try:
            LSTMStrategy.check_params(**model)
        except InvalidParameter as error:
            raise InvalidParameter(f"[model] the combination {model}: {error}") from None


def _schedule_partner(spec, name):
    """For a lone check of `seq_len`/`train_window`, the most lenient partner the spec allows
    among the partner's own valid values (a bad one is refused naming itself)."""
    from ..models.schedule import MAX_BARS

    partner = {"seq_len": "train_window", "train_window": "seq_len"}.get(name)
    valid = [value for value in spec.model.get(partner, ())
             if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_BARS]
    if not valid:
        return {}
    return {partner: max(valid) if partner == "train_window" else min(valid)}


def _same(value):
    """What makes two values one: numbers by value (0 and 0.0; a bool is no number), lists
    item by item."""
    if isinstance(value, bool) or isinstance(value, str):
        return type(value).__name__, value
    if isinstance(value, numbers.Number):
        return ("nan",) if value != value else ("number", value)
    if isinstance(value, (list, tuple)):
        return "list", tuple(_same(item) for item in value)
    return "other", repr(value)


def _product(params):
    names = list(params)
    return [dict(zip(names, combo)) for combo in itertools.product(*params.values())]


def _strings(table, key, value):
    value = [value] if isinstance(value, str) else value
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InvalidParameter(f"[{table}] `{key}` must be a list of strings, got {value!r}.")
    return value


def _plain(source):
    """The spec with tuples as lists, so it round-trips through TOML and compares equal."""
    def plain(value):
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    return plain(source)


def _toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, float) and not math.isfinite(value):
        return {math.inf: "inf", -math.inf: "-inf"}.get(value, "nan")
    if isinstance(value, (int, float)):
        return repr(value)
    if value is None:
        raise InvalidParameter("A sweep spec cannot hold None (TOML has no null); leave the "
                               "key out to take its default.")
    raise InvalidParameter(f"A sweep spec value must be a string, number, boolean or list, "
                           f"got {type(value).__name__} {value!r}.")
