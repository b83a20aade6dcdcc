"""The `lstm-bt` command: a thin layer over the library.

Each subcommand lives in its own module with `add_parser(subparsers)` and `run(args)`.
User errors (`LstmBtError`, bad flags) print one line and exit 2; anything else is a bug and
exits 1 with its traceback.
"""

import argparse
import importlib
import logging
import sys

from ..errors import LstmBtError

__all__ = ["main", "build_parser"]

SUBCOMMANDS = ("backtest", "fetch", "plot", "sweep")

EXIT_OK = 0
EXIT_BUG = 1
EXIT_BAD_INPUT = 2


class _OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line that points at `--help` instead of a usage dump."""

    def error(self, message):
        raise _UsageError(f"{message} (see `{self.prog} --help`)")


class _UsageError(LstmBtError):
    pass


def build_parser():
    parser = _OneLineParser(
        prog="lstm-bt",
        description="Backtest Keras LSTM strategies on Binance klines with backtrader.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_OneLineParser)
    subparsers.required = True
    for name in SUBCOMMANDS:
        importlib.import_module(f"{__name__}.{name}").add_parser(subparsers)
    return parser


def main(argv=None):
    """Run the command line; returns the exit status (also used as the console script)."""
    try:
        args = build_parser().parse_args(argv)
        logging.basicConfig(
            level=logging.INFO if args.verbose else logging.WARNING,
            format="%(levelname)s %(name)s: %(message)s",
        )
        return args.run(args) or EXIT_OK
    except LstmBtError as error:
        # One line, whatever text a library error wrapped (pandas' messages end in newlines).
        print(f"lstm-bt: error: {' '.join(str(error).split())}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("lstm-bt: interrupted; whatever was stored is kept, run again to resume",
              file=sys.stderr)
        return 130
