"""The `lstm-bt` command: a thin layer over the library.

Each subcommand lives in its own module with `add_parser(subparsers)` and `run(args)`.
User errors (`LstmBtError`, bad flags) and failures of the machine around the run (disk full,
read-only or misplaced paths, a damaged kline store) print one line and exit 2; anything else
is a bug and exits 1 with its traceback. The library's messages name Python arguments
(`train_window`); here they are shown as the subcommand's flags (`--train-window`).
"""

import argparse
import errno
import importlib
import logging
import os
import sys
import warnings

from ..errors import LstmBtError, did_you_mean

__all__ = ["build_parser", "main", "run_and_exit"]

# Each subcommand and its one-line help. `lstm-bt --help` lists them without importing their
# modules (the backtest's flags are generated from LSTMStrategy, which loads backtrader and
# pandas): only the subcommand being run is built in full.
SUBCOMMANDS = {
    "backtest": "run a walk-forward LSTM backtest and write a run directory",
    "fetch": "download Binance klines into the local store",
    "plot": "re-draw the plots of a run directory",
    "sweep": "run many backtests (symbols x periods x seeds x params) on Dask",
    "trade": "trade a strategy on live Binance klines (--paper, --testnet, --live)",
}

EXIT_OK = 0
EXIT_BUG = 1
EXIT_BAD_INPUT = 2
# True in the `lstm-bt` console script and `python -m lstm_bt` (`run_and_exit`), whose process
# the command owns: only there may a command change the process, e.g. its environment. Not
# when `main()` is called from a caller's own Python.
owns_process = False

# errno -> what to do, for the failures that come from the machine, not from lstm-bt.
_ENVIRONMENT_FIXES = {
    errno.ENOSPC: "free some disk space, or choose another directory",
    errno.EDQUOT: "free some disk space, or choose another directory",
    errno.EFBIG: "free some space or raise the file size limit (ulimit -f)",
    errno.EROFS: "choose a writable directory (--out, --data-dir)",
    errno.EACCES: "choose a directory you may write to, or fix its permissions",
    errno.EPERM: "choose a directory you may write to, or fix its permissions",
    errno.ENOTDIR: "a file stands where a directory is needed; fix the path",
    errno.EISDIR: "a directory stands where a file is needed; give a file path",
    errno.EEXIST: "a file stands where a directory is needed; fix the path",
    errno.ENOENT: "check the path",
    errno.ENAMETOOLONG: "use a shorter path",
}


class _OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line that points at `--help` instead of a usage dump."""

    def __init__(self, *args, **kwargs):
        # A prefix of a flag (`--seq`) is not silently taken for it: a typo gets a suggestion.
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message):
        raise _UsageError(f"{message} (see `{self.prog} --help`)")


class _UsageError(LstmBtError):
    pass


def build_parser(only=None):
    """The `lstm-bt` parser. `only`: the subcommands to build in full (None: all); the others
    are listed with their help alone."""
    from .. import __version__

    parser = _OneLineParser(
        prog="lstm-bt",
        description="Backtest Keras LSTM strategies on Binance klines with backtrader.",
    )
    parser.add_argument("--version", action="version", version=f"lstm-bt {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_OneLineParser)
    subparsers.required = True
    for name, help_text in SUBCOMMANDS.items():
        if only is None or name in only:
            importlib.import_module(f"{__name__}.{name}").add_parser(subparsers)
        else:
            subparsers.add_parser(name, help=help_text)
    for subparser in subparsers.choices.values():
        _add_common_flags(subparser)
    return parser


def _add_common_flags(parser):
    """-v/--verbose and -q/--quiet on every subcommand (unless it defines its own)."""
    options = parser._option_string_actions
    if "-v" not in options and "--verbose" not in options:
        # SUPPRESS: when not given here, `lstm-bt -v COMMAND` keeps the top-level value.
        parser.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                            help="log what happens")
    if "-q" not in options and "--quiet" not in options:
        parser.add_argument("-q", "--quiet", action="store_true",
                            help="print nothing but warnings and errors")


def main(argv=None):
    """Run the command line; returns the exit status (also used as the console script)."""
    given = sys.argv[1:] if argv is None else argv
    parser = build_parser(only=[word for word in given if word in SUBCOMMANDS][:1])
    flags = {}
    try:
        args, unknown = parser.parse_known_args(argv)
        command = _subparser(parser, args.command)
        if unknown:
            _refuse_unknown(command, unknown)
        flags = _flags_of(command)
        logging.basicConfig(
            level=logging.INFO if args.verbose else logging.WARNING,
            format="%(levelname)s %(name)s: %(message)s",
        )
        with warnings.catch_warnings():  # restored on return: main() may run in a caller's process
            warnings.showwarning = _show_warning
            return args.run(args) or EXIT_OK
    except LstmBtError as error:
        return _refuse(error, flags)
    except KeyboardInterrupt:
        print("lstm-bt: interrupted; whatever was stored is kept, run again to resume",
              file=sys.stderr)
        return 130
    except Exception as error:
        problem = _environment_problem(error)
        if problem is None:
            raise
        return _refuse(problem, flags)


def run_and_exit(argv=None):
    """The `lstm-bt` console script and `python -m lstm_bt`: `main`, then exit with its status.

    The process is the command's own: its stderr is filtered of the backend's start-up lines
    (`backend_noise`), and commands may set its environment (`owns_process`).
    """
    global owns_process
    owns_process = True
    from .backend_noise import filter_backend_noise

    filter_backend_noise()
    status = main(argv)
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # `lstm-bt ... | head`: the reader left, nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(status)


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """A warning as one line, as the command's errors are; not the library's source line."""
    print(f"lstm-bt: warning: {' '.join(str(message).split())}", file=file or sys.stderr)


def _refuse(error, flags):
    from .strategy_flags import as_flags

    # One line, whatever text a library error wrapped (pandas' messages end in newlines).
    text = as_flags(" ".join(str(error).split()), flags)
    print(f"lstm-bt: error: {text}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _subparser(parser, command):
    return parser._subparsers._group_actions[0].choices[command]


def _flags_of(parser):
    """Python name -> flag for every flag of a subcommand (`train_window` -> `--train-window`).

    Library arguments that the command spells differently map too (`out` -> `--out`)."""
    flags = {}
    for action in parser._actions:
        longs = [option for option in action.option_strings if option.startswith("--")]
        if longs and action.dest not in (argparse.SUPPRESS, "help"):
            flags[action.dest] = longs[0]
            flags[longs[0][2:].replace("-", "_")] = longs[0]
    return flags


def _refuse_unknown(parser, unknown):
    """An unknown flag, with the closest real one (`--seqlen` -> `--seq-len`)."""
    options = [option for option in parser._option_string_actions if option.startswith("--")]
    flag = next((item for item in unknown if item.startswith("-")), unknown[0]).partition("=")[0]
    hint = ""
    if flag.startswith("-"):
        # A prefix (`--seq`) means the flag it starts, before any merely similar one (`--seed`).
        longer = [option for option in options if option.startswith(flag)]
        hint = did_you_mean(flag, longer, cutoff=0) if longer else did_you_mean(flag, options)
    parser.error(f"unrecognized arguments: {' '.join(unknown)}.{hint}")


def _environment_problem(error):
    """One line for a failure of the machine around the run (or of what it was given to
    read), or None for anything else, which is a bug."""
    if isinstance(error, OSError) and error.errno in _ENVIRONMENT_FIXES:
        where = f": {error.filename}" if error.filename else ""
        reason = error.strerror or type(error).__name__
        return f"{reason}{where}; {_ENVIRONMENT_FIXES[error.errno]}."
    sqlite3 = sys.modules.get("sqlite3")
    if sqlite3 is not None and isinstance(error, sqlite3.DatabaseError):
        return (f"the kline store in `data_dir` cannot be used ({error}): free disk space if "
                "it is full, move klines.sqlite away if it is damaged (bars are fetched again), "
                "or choose another `data_dir`.")
    if isinstance(error, RecursionError):
        return ("an input is nested too deeply to read (a damaged file or a misbehaving "
                "server answer); check `base_url` and the files given.")
    return None
