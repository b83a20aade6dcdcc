"""Break each guaranteed behaviour on purpose and check that a test notices.

Each mutant is one deliberate bug (a fit-time leak, a stale cache key, fills at the close, a
refusal that tracebacks, ...): exact snippets replaced in files of a temporary *copy* of the
repository, never in the working tree. For each mutant the named test files run in that copy
(`pytest -x -q`); the mutant is *caught* when a test fails, and the failing test is named.

The study's arithmetic mutants (medians, quartiles, DSR, PBO, the report's columns) are listed
in `study_mutants.py` beside this file.

A mutant whose old snippet is not found exactly once is *stale* (the code moved): the script
stops with an error naming it, so it gets re-pointed rather than silently skipped.

Usage, from the repository root (a few minutes; pytest does not collect this file):

    python tests/mutants/check_mutants.py            # every mutant
    python tests/mutants/check_mutants.py --list     # ids and what each breaks
    python tests/mutants/check_mutants.py fills-at-close drawdown-from-first-bar
    python tests/mutants/check_mutants.py scaler-refit-with-bar-t+1 --tests tests/test_forecaster.py

Exit status: 0 every mutant caught; 1 some mutant survived or the unmutated tests failed;
2 a mutant is stale or an id is unknown.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from study_mutants import STUDY_MUTANTS

ROOT = Path(__file__).resolve().parents[2]
# User data at the top level only: `lstm_bt/feeds/` is code and must be copied.
_TOP_LEVEL_IGNORED = {"feeds", "runs", "build", "dist", ".venv"}
_IGNORED = shutil.ignore_patterns(".git", "__pycache__", "*.pyc", ".pytest_cache", "*.egg-info")


def _copy_ignored(folder, names):
    ignored = set(_IGNORED(folder, names))
    if Path(folder).resolve() == ROOT:
        ignored |= _TOP_LEVEL_IGNORED & set(names)
    return ignored

STRATEGY = "lstm_bt/strategies/lstm_strategy.py"
FORECASTER = "lstm_bt/models/forecaster.py"
CACHE = "lstm_bt/run/forecast_cache.py"
FLAGS = "lstm_bt/cli/strategy_flags.py"

LOOKAHEAD_TESTS = ("tests/test_no_lookahead.py", "tests/test_forecaster.py",
                   "tests/test_extra_inputs.py")
CACHE_TESTS = ("tests/test_cache_key_guards.py",)
REFUSAL_TESTS = ("tests/test_cli_refusals.py",)

WALK = "lstm_bt/models/walk_forward.py"
STREAM = "lstm_bt/binance/stream.py"
STREAM_TESTS = "tests/test_binance_stream.py"

# Both walk-forwards (the strategy's and `WalkForward.run`) read bars through a `read_bars(size)`
# callback ending at the current bar; a leak is written as a callback that reads ahead.
_READ_AHEAD = [
    (STRATEGY, "    def _bars(self, size):", "    def _bars(self, size, ahead=0):"),
    (STRATEGY, "[line.get(size=size) for line in self._lines]",
     "[line.get(ago=ahead, size=size) for line in self._lines]"),
    (WALK, "lambda size, bar=bar: bars[bar - size + 1:bar + 1]",
     "lambda size, ahead=0, bar=bar: bars[bar - size + 1 + ahead:bar + 1 + ahead]"),
]


@dataclass(frozen=True)
class Mutant:
    """One deliberate bug: `edits` are (path, old snippet, new snippet), applied in order."""

    id: str
    breaks: str
    edits: tuple
    tests: tuple


PAPER_BROKER = "lstm_bt/live/broker.py"
SWEEPS = "lstm_bt/sweeps/__init__.py"
SWEEP_RESULTS = "lstm_bt/sweeps/results.py"
SPEC = "lstm_bt/sweeps/spec.py"
PROGRESS = "lstm_bt/sweeps/progress.py"
INTEGRITY_TESTS = "tests/test_sweep_integrity.py"
SPEC_TESTS = "tests/test_sweep_spec.py"
LIVE_FEED = "lstm_bt/live/live_klines.py"

MUTANTS = (
    Mutant(
        "fit-window-ends-at-t+1",
        "the model fit at the close of bar t trains on bars up to t + 1",
        (*_READ_AHEAD,
         (WALK, "self._fit(read_bars(window.train_stop - window.train_start), when)",
          "self._fit(read_bars(window.train_stop - window.train_start, ahead=1), when)")),
        LOOKAHEAD_TESTS,
    ),
    Mutant(
        "scaler-refit-with-bar-t+1",
        "the feature scaler is refit on the training window plus bar t + 1",
        (*_READ_AHEAD,
         (WALK, "            self._fit(read_bars(window.train_stop - window.train_start), when)\n",
          "            self._fit(read_bars(window.train_stop - window.train_start), when)\n"
          "            self._forecaster.features_.fit(\n"
          "                read_bars(window.train_stop - window.train_start + 1, ahead=1))\n")),
        LOOKAHEAD_TESTS,
    ),
    Mutant(
        "layers-seeded-from-global-random",
        "Keras layers draw their seeds from Python's global `random`, seeded once per fit "
        "(the engine issue's Dask bug: another thread's draws change the weights)",
        ((FORECASTER, "        return int(self.random_.integers(1, 2**31 - 1))",
          "        return None"),
         (FORECASTER, "                self.random_ = np.random.default_rng(self.seed)\n",
          "                self.random_ = np.random.default_rng(self.seed)\n"
          "                __import__('keras').utils.set_random_seed(self.seed)\n")),
        ("tests/test_walk_forward.py",),
    ),
    Mutant(
        "session-cleared-under-another-fit",
        "a sweep walk-forward clears Keras' session while another thread of the process fits "
        "(found with 16 task threads: the other fit broke)",
        (("lstm_bt/models/keras_state.py", "        if _in_use:\n            return False\n", ""),),
        ("tests/test_sweep.py",),
    ),
    Mutant(
        "target-inside-input-window",
        "a training sample's target is the last row of its own input window",
        ((FORECASTER, "targets = rows[self.seq_len:, target_column]",
          "targets = rows[self.seq_len - 1:-1, target_column]"),),
        LOOKAHEAD_TESTS,
    ),
    *(
        Mutant(
            f"{param}-is-a-trading-param",
            f"`{param}` is left out of the cache key, so changing it replays stale forecasts",
            ((STRATEGY, "    trading_params = tuple(TRADING_DEFAULTS)\n",
              f"    trading_params = tuple(TRADING_DEFAULTS) + ({param!r},)\n"),),
            CACHE_TESTS,
        )
        for param in ("epochs", "features", "train_window")
    ),
    Mutant(
        "model-source-not-in-key",
        "the model code (lstm_bt/models) is left out of the cache key",
        ((CACHE, '        "models_source": _models_source_digest(),\n', ""),),
        CACHE_TESTS,
    ),
    Mutant(
        "sweep-cell-reused-across-backends",
        "a resumed sweep reuses cells trained under another Keras backend",
        (("lstm_bt/sweeps/plan.py", "                     backend.backend_name())",
          '                     "tensorflow")'),),
        ("tests/test_sweep_spec.py",),
    ),
    Mutant(
        "cache-trusts-damaged-files",
        "cache entries are read without checking their checksums",
        ((CACHE, "if _file_digest(entry / name) != expected:", "if False:"),),
        CACHE_TESTS,
    ),
    Mutant(
        "fills-at-close",
        "market orders fill at the signal bar's close (cheat-on-close)",
        (("lstm_bt/run/runner.py", '    broker.setcash(settings["cash"])\n',
          '    broker.setcash(settings["cash"])\n    broker.set_coc(True)\n'),),
        ("tests/test_guarantees_fills.py",),
    ),
    Mutant(
        "drawdown-from-first-bar",
        "max drawdown measured from the first bar's value instead of the starting value",
        (("lstm_bt/stats/performance.py", "path = np.concatenate(([_positive_value(start_value)], values))",
          "path = np.concatenate(([values[0]], values))"),),
        ("tests/test_guarantees_drawdown.py",),
    ),
    Mutant(
        "drawdown-analyzer-from-first-bar",
        "the MaxDrawdown analyzer passes the first measured value as the starting value",
        (("lstm_bt/analyzers/drawdown.py",
          "stats.max_drawdown(self.values, self.start_value)",
          "stats.max_drawdown(self.values, self.values[0])"),),
        ("tests/test_guarantees_drawdown.py",),
    ),
    Mutant(
        "refusal-demo-with-symbol",
        "`--demo --symbol X` is no longer refused",
        (("lstm_bt/cli/backtest.py", "        if args.symbol or args.interval:\n",
          "        if False:\n"),),
        REFUSAL_TESTS,
    ),
    Mutant(
        "refusal-param-without-equals",
        "`--param foo` (no `=`) is not recognised as malformed",
        ((FLAGS, "if not sep or not name:", "if not name:"),),
        REFUSAL_TESTS,
    ),
    Mutant(
        "refusal-strategy-file-fails-to-import",
        "a strategy file that raises while importing gives a traceback",
        ((FLAGS, "    except Exception as error:  # a user's file may fail in any way",
          "    except ImportError as error:  # a user's file may fail in any way"),),
        REFUSAL_TESTS,
    ),
    Mutant(
        "refusal-run-managed-param",
        "`--param seed=1` is not refused as set by the run",
        ((FLAGS, "        if name in RUN_MANAGED_PARAMS:\n", "        if False:\n"),),
        REFUSAL_TESTS,
    ),
    Mutant(
        "refusal-wrongly-typed-param",
        "`--param epochs=abc` gives a traceback",
        ((FLAGS, "        except ValueError:\n            raise InvalidParameter(\n"
                 "                f\"Received an invalid value for `--param {name}`: {text!r}",
          "        except KeyError:\n            raise InvalidParameter(\n"
          "                f\"Received an invalid value for `--param {name}`: {text!r}"),),
        REFUSAL_TESTS,
    ),
    Mutant(
        "refusal-several-strategy-classes",
        "a file with several strategy classes runs the first one",
        ((FLAGS, "    if len(found) != 1:\n", "    if not found:\n"),),
        REFUSAL_TESTS,
    ),
    Mutant(
        "refusal-no-strategy-class",
        "a file with no strategy class gives a traceback",
        ((FLAGS, "    if len(found) != 1:\n", "    if len(found) > 1:\n"),),
        REFUSAL_TESTS,
    ),
    Mutant(
        "bar-times-in-the-feed-tz",
        "bar times are read in the feed's `tz` (backtrader's local time), not UTC: `start` "
        "picks another bar and stored forecasts meet the wrong bars",
        (("lstm_bt/data/bar_times.py", "    return num2date(data.datetime[0])",
          "    return data.datetime.datetime(0)"),),
        ("tests/test_bar_times.py",),
    ),
    Mutant(
        "order-post-retried",
        "a new order whose answer was lost (timeout, 5xx, -1007) is sent again",
        (("lstm_bt/binance/account.py", "resend=False, before_send=before_send)",
          "resend=True, before_send=before_send)"),),
        ("tests/test_signed_client.py",),
    ),
    Mutant(
        "unresolved-intent-resent",
        "at start, an intent without an outcome is sent again instead of asked about",
        (("lstm_bt/orders/sender.py",
          "        return [self.resolve(intent) for intent in self.journal.intents_unresolved()]",
          "        return [self.tracker.apply_order(self.client.new_order({\n"
          "            'symbol': i.symbol, 'side': i.side, 'type': 'MARKET', 'quantity': "
          "i.quantity,\n            'newClientOrderId': i.client_order_id}))\n"
          "            for i in self.journal.intents_unresolved()]"),),
        ("tests/test_order_crash.py",),
    ),
    Mutant(
        "missing-order-taken-as-never-placed",
        "an order Binance does not show yet is taken as never placed, before its recvWindow "
        "has passed",
        (("lstm_bt/orders/sender.py", "if sent_ms is None or self.client.server_ms() > (",
          "if True or self.client.server_ms() > ("),),
        ("tests/test_order_sender.py",),
    ),
    Mutant(
        "no-polling-while-stream-down",
        "fills are not polled while the user data stream is down",
        (("lstm_bt/orders/live_orders.py",
          "if stream is None or not stream.up or stream.connections",
          "if stream is None or stream.connections"),),
        ("tests/test_user_stream.py",),
    ),
    Mutant(
        "paper-broker-works-every-loop",
        "the paper broker works pending orders on every cerebro loop, also while the live "
        "feed waits without a new bar: a limit order fills against the bar it was made on",
        ((PAPER_BROKER, "        if seen == self._bars_seen:\n", "        if False:\n"),),
        ("tests/test_paper_broker.py",),
    ),
    Mutant(
        "paper-broker-ignores-the-lot-step",
        "orders are sent at the size the strategy asked, not rounded down to the lot step",
        ((PAPER_BROKER, "            size = float(filters.round_quantity(size, market=market))\n",
          ""),),
        ("tests/test_paper_broker.py",),
    ),
    Mutant(
        "journal-trusts-the-replay",
        "a replayed decision that differs from the journal is taken as it is",
        (("lstm_bt/live/journal.py", "        if held[0] != new:\n", "        if False:\n"),),
        ("tests/test_live_journal.py",),
    ),
    Mutant(
        "live-feed-repeats-bars",
        "a bar the stream hands out twice reaches the strategy twice",
        ((LIVE_FEED, "                if item[0] <= self._last_ms:\n", "                if False:\n"),),
        ("tests/test_live_feed.py",),
    ),
    Mutant(
        "session-restarts-from-the-clock",
        "a resumed session takes a new first live bar instead of its journaled one: its model "
        "schedule and measured bars start over",
        (("lstm_bt/live/store.py",
          '        if self.journal is not None and self.journal.get("first_live_ms") is not None:\n',
          "        if False:\n"),),
        ("tests/test_paper_parity.py::test_kill_9_then_the_same_command_resumes_where_it_was",),
    ),
    Mutant(
        "stream-takes-unclosed-candles",
        "the kline stream's candles in progress (`k.x` false) are taken as closed bars",
        ((STREAM, '    if not isinstance(candle, dict) or candle.get("x") is not True:',
          "    if not isinstance(candle, dict):"),),
        (f"{STREAM_TESTS}::test_clean_stream_hands_over_every_closed_bar_once_in_order",),
    ),
    Mutant(
        "stream-repeats-handed-over-again",
        "a closed candle at or before the last bar had is handed over again",
        ((STREAM, "        if candle is None or candle[0] < self.expected_ms:",
          "        if candle is None:"),
         (STREAM, "        if candle[0] > self.expected_ms:", "        if False:")),
        (f"{STREAM_TESTS}::test_repeated_closed_candles_change_nothing",),
    ),
    Mutant(
        "stream-gap-not-filled",
        "a closed candle after a gap is handed over at once, the gap left to a later REST fill",
        ((STREAM, "        if candle[0] > self.expected_ms:", "        if False:"),),
        (f"{STREAM_TESTS}::test_closed_candle_arriving_late_and_out_of_order_changes_nothing",),
    ),
    Mutant(
        "stream-late-bar-waits-for-the-next",
        "a bar the stream does not bring is fetched only when a later candle shows the gap",
        ((STREAM, "        return self.step.next_open(self.expected_ms) / 1000 + "
                  "self.source.late_grace_s",
          "        return float('inf')"),),
        (f"{STREAM_TESTS}::test_withheld_closed_candle_is_fetched_once_its_grace_has_passed",),
    ),
    Mutant(
        "stream-no-fill-after-connect",
        "a new connection does not fill the gap over REST first",
        ((STREAM, "                self.need_fill = True\n                self.fill_at = 0.0\n",
          ""),),
        (f"{STREAM_TESTS}::test_reconnecting_fills_the_gap_before_the_stream_shows_it",),
    ),
    Mutant(
        "stream-silence-trusted",
        "a connection that sends nothing (but answers pings) is kept",
        ((STREAM, "            if now - heard_at >= self.source.silence_s:",
          "            if False:"),),
        (f"{STREAM_TESTS}::test_silent_stream_that_answers_pings_is_replaced_and_bars_come_"
         "over_rest",),
    ),
    Mutant(
        "stream-server-shutdown-ignored",
        "Binance's `serverShutdown` announcement is ignored until the server closes",
        ((STREAM, '            if self.on_message(message) == "serverShutdown":',
          '            if self.on_message(message) == "never":'),),
        (f"{STREAM_TESTS}::test_server_shutdown_rotates_to_a_new_connection",),
    ),
    Mutant(
        "stream-never-rotates",
        "a connection is kept past `rotate_s` (Binance then cuts it at 24 h)",
        ((STREAM, "            if now - connected_at >= self.source.rotate_s:",
          "            if False:"),),
        (f"{STREAM_TESTS}::test_client_rotates_connections_before_their_age_limit",),
    ),
    Mutant(
        "stream-hand-over-blocks",
        "bars are handed over through a bounded queue: a busy caller stalls the socket and "
        "its pongs",
        ((STREAM, "        self._events = queue.SimpleQueue()",
          "        self._events = queue.Queue(maxsize=1)"),),
        (f"{STREAM_TESTS}::test_pings_are_answered_while_the_caller_is_busy",),
    ),
    Mutant(
        "stream-reconnect-hot-loop",
        "reconnecting does not back off",
        ((STREAM, "        self.backoff_s = min(2 * self.backoff_s, self.source.max_backoff_s)",
          "        self.backoff_s = 0.01"),),
        (f"{STREAM_TESTS}::test_bars_keep_coming_over_rest_while_the_stream_is_refused",),
    ),
    Mutant(
        "stream-close-waits-out-backoff",
        "`close` does not cut short the wait before reconnecting",
        ((STREAM, "            if self.stopping.wait(max(min(self.next_fill_at(), connect_at) - "
                  "now, 0.01)):\n                raise _Stopped",
          "            time.sleep(max(min(self.next_fill_at(), connect_at) - now, 0.01))"),),
        (f"{STREAM_TESTS}::test_close_cuts_short_the_wait_before_reconnecting",),
    ),
    Mutant(
        "stream-candle-unchecked",
        "a closed candle from the stream is handed over without the kline row check",
        ((STREAM, "            problem = kline_problem([row[0]],",
          "            problem = None and kline_problem([row[0]],"),),
        (f"{STREAM_TESTS}::test_closed_candle_that_cannot_be_a_bar_is_taken_from_rest",),
    ),
    Mutant(
        "stream-absent-bar-awaited",
        "a bar REST settled as never traded is still waited for (asked for again and again)",
        ((STREAM, "                    if page.end_ms > self.expected_ms:\n"
                  "                        self.skip_absent_bars(page.end_ms)\n", ""),),
        (f"{STREAM_TESTS}::test_bar_binance_never_had_is_skipped_as_rest_shows_it",),
    ),
    Mutant(
        "stream-fill-failure-fatal",
        "a gap fill that fails on network trouble stops the source",
        ((STREAM, "            if not _worth_retrying(error):\n                raise\n",
          "            raise\n"),),
        (f"{STREAM_TESTS}::test_rest_down_when_a_bar_is_late_is_tried_again_until_it_answers",),
    ),
    Mutant(
        "stream-live-only-after-rest",
        "the source says it is catching up while the stream brings every bar in order, "
        "as long as REST is down",
        ((STREAM, '        self.publish("live")  # the next bar came in order',
          "        pass  # the next bar came in order"),),
        (f"{STREAM_TESTS}::test_stream_bars_in_order_are_live_while_rest_is_down",),
    ),
    Mutant(
        "stream-thread-outlives-close",
        "`close` returns while the stream's thread goes on",
        ((STREAM, "        except _Stopped:\n            pass\n",
          "        except _Stopped:\n            time.sleep(30)\n"),),
        (f"{STREAM_TESTS}::test_close_stops_every_thread_it_started",),
    ),
    # Issue 21's reliability fixes: sweeps, specs, --from, --cash.
    Mutant(
        "sweep-takes-no-hold-on-out",
        "a sweep writes into an --out another run (sweep or backtest) is writing into",
        ((SWEEPS, "    with RunDirClaim(out).acquire():\n",
          "    with __import__('contextlib').nullcontext():\n"),),
        (f"{INTEGRITY_TESTS}::test_a_sweep_into_an_out_another_run_holds_is_refused_at_once_"
         "and_writes_nothing",),
    ),
    Mutant(
        "returns-npz-names-drop-the-period-end",
        "returns.npz names a cell's array without its period end: periods sharing a start "
        "overwrite each other's returns",
        (("lstm_bt/sweeps/report.py",
          'f"config{cell.config}__{cell.symbol}__{cell.period_start}__{cell.period_end}"',
          'f"config{cell.config}__{cell.symbol}__{cell.period_start}"'),),
        (f"{INTEGRITY_TESTS}::test_periods_that_share_a_start_each_keep_their_returns_named_"
         "with_both_ends",),
    ),
    Mutant(
        "all-runs-counts-this-run-only",
        "summary.json's timing `all_runs` holds this run's counts, not summed over the "
        "earlier runs into the --out",
        ((SWEEP_RESULTS, "        return {name: before[name] + value for name, value in "
                         "counts.items()}",
          "        return dict(counts)"),),
        (f"{INTEGRITY_TESTS}::test_a_resume_keeps_this_runs_counts_and_sums_every_run_in_all_"
         "runs",),
    ),
    Mutant(
        "damaged-cell-file-kept",
        "a cell file that cannot be read is left in place (warned about again at every load)",
        ((SWEEP_RESULTS, "            path.unlink(missing_ok=True)\n", ""),),
        (f"{INTEGRITY_TESTS}::test_a_damaged_cell_file_is_removed_with_a_warning_naming_it",),
    ),
    Mutant(
        "cell-record-taken-unchecked",
        "a stored record is taken as the cell's result without checking it is one (another "
        "cell's record, a field the report reads missing): it is not computed again",
        ((SWEEP_RESULTS, 'record = _checked(json.loads(str(stored["record"])), key)',
          'record = json.loads(str(stored["record"]))'),),
        (f"{INTEGRITY_TESTS}::test_a_damaged_cell_file_is_removed_with_a_warning_naming_it",),
    ),
    Mutant(
        "spec-value-spelt-twice-accepted",
        "a sweep value spelt twice (0 and 0.0) is two trials, inflating the N of DSR and PBO",
        ((SPEC, "_refuse_twice(table, name, values, [_same(value) for value in values])",
          "_refuse_twice(table, name, values, [repr(value) for value in values])"),),
        (f"{SPEC_TESTS}::test_a_value_spelt_twice_is_refused_naming_the_param_and_the_value",),
    ),
    Mutant(
        "spec-periods-kept-with-their-offset",
        "a spec period with an offset (+05:00, Z) is kept as written, not converted to naive "
        "UTC (plan and data then compare tz-aware with tz-naive times)",
        ((SPEC, "        periods.append((_date_text(start), _date_text(end)))",
          "        periods.append((pair[0], pair[1]))"),),
        (f"{SPEC_TESTS}::test_periods_with_an_offset_are_read_in_utc_as_the_command_reads_"
         "start",),
    ),
    Mutant(
        "bar-counts-unbounded",
        "bar counts (seq_len, train_window, retrain_every, input_warmup) have no upper bound "
        "(MAX_BARS): 2**63-1 overflows after spec.toml is written",
        (("lstm_bt/models/schedule.py",
          'seq_len = check_int("seq_len", seq_len, low=1, high=MAX_BARS,',
          'seq_len = check_int("seq_len", seq_len, low=1,'),
         ("lstm_bt/models/schedule.py",
          'train_window = check_int("train_window", train_window, low=1, high=MAX_BARS,',
          'train_window = check_int("train_window", train_window, low=1,'),
         ("lstm_bt/models/schedule.py",
          'retrain_every = check_int("retrain_every", retrain_every, low=1, high=MAX_BARS,',
          'retrain_every = check_int("retrain_every", retrain_every, low=1,'),
         (WALK, 'check_int("input_warmup", p["input_warmup"], high=MAX_BARS,',
          'check_int("input_warmup", p["input_warmup"],')),
        (f"{SPEC_TESTS}::test_a_bar_count_above_a_billion_is_refused",),
    ),
    Mutant(
        "grid-not-counted-before-it-is-built",
        "a spec's grid is not counted against max_cells (MAX_CELLS) before it is built",
        ((SPEC, "    _check_size(checked, max_cells)\n", ""),),
        (f"{SPEC_TESTS}::test_a_grid_above_max_cells_is_refused_before_it_is_built",),
    ),
    Mutant(
        "lost-scheduler-taken-as-cell-failures",
        "the tasks a lost Dask scheduler cancelled are stored as failed cells and the sweep "
        "reports (exit 3) instead of stopping in one line (exit 2), resumable",
        (("lstm_bt/sweeps/on_dask.py",
          "            except CancelledError as error:  # not the task's failure: the cluster "
          "dropped it\n                raise _lost(client, error) from None\n", ""),),
        (f"{INTEGRITY_TESTS}::test_a_sweep_whose_scheduler_is_killed_stops_in_one_line_"
         "keeping_its_finished_cells",),
    ),
    Mutant(
        "from-of-a-csv-run-goes-to-binance",
        "backtest --from of a --csv run does not re-read the recorded file (data.path): it "
        "asks Binance for the recorded symbol",
        (("lstm_bt/cli/backtest.py", "        args.csv, args.symbol = path, symbol\n",
          "        args.symbol = symbol\n"),),
        ("tests/test_rerun_report.py::test_from_a_file_report_rereads_the_recorded_file_"
         "keeping_the_recorded_symbol",),
    ),
    Mutant(
        "cash-above-max-cash-accepted",
        "--cash (and [run] cash) above MAX_CASH = 1e12 is taken: 1e308 overflows the equity",
        (("lstm_bt/run/run_params.py", "             lambda v: 0 < v <= MAX_CASH),",
          "             lambda v: 0 < v < float('inf')),"),),
        ("tests/test_run_params.py",),
    ),
    Mutant(
        "sweep-eta-counts-each-cells-walk-time",
        "the sweep ETA adds a walk-forward's time once per cell it holds (cells counted "
        "instead of walk-forwards): the ETA is inflated by the trading configs",
        ((PROGRESS, "                self.measured += walk_s\n",
          "                self.measured += walk_s * len(results)\n"),),
        (f"{SPEC_TESTS}::test_the_progress_bar_counts_walk_forwards_and_scales_its_eta_by_"
         "the_finished_ones",),
    ),
    Mutant(
        "sweep-progress-counts-cells",
        "the sweep progress bar counts cells, which arrive in bursts of a walk-forward's "
        "trading configs, instead of walk-forwards",
        ((PROGRESS, "self.bar = tqdm(total=len(work),", "self.bar = tqdm(total=self.cells_total,"),
         (PROGRESS, "            self.bar.update(1)\n", ""),
         (PROGRESS, "        self.cells += len(results)\n",
          "        self.cells += len(results)\n        self.bar.update(len(results))\n")),
        (f"{SPEC_TESTS}::test_the_progress_bar_counts_walk_forwards_and_scales_its_eta_by_"
         "the_finished_ones",),
    ),
    Mutant(
        "rest-closed-by-arrival",
        "a REST candle counts as closed by when its answer arrived, not when it was asked "
        "for: one that closed on the way is kept with its values in progress",
        (("lstm_bt/binance/rest.py", "                return rows, min(asked_ms, answered_ms)",
          "                return rows, answered_ms"),),
        ("tests/test_binance_rest.py::test_a_candle_that_closes_while_its_answer_is_on_the_way"
         "_is_not_taken_for_closed",),
    ),
    *(Mutant(*fields) for fields in STUDY_MUTANTS),
)


class StaleMutant(Exception):
    """A mutant's old snippet is not in its file exactly once."""


def apply(mutant, tree):
    """Apply `mutant`'s edits to the copy at `tree`."""
    for path, old, new in mutant.edits:
        file = tree / path
        text = file.read_text() if file.is_file() else ""
        found = text.count(old)
        if found != 1:
            raise StaleMutant(
                f"mutant {mutant.id}: the snippet {old.strip()!r} occurs {found} times in {path} "
                f"(expected once); re-point the mutant at where that code lives now."
            )
        file.write_text(text.replace(old, new))


def run_tests(tree, tests):
    """(exit status, failing test ids, output tail) of pytest over `tests` in `tree`."""
    env = dict(os.environ, PYTHONPATH=str(tree), PYTHONDONTWRITEBYTECODE="1")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests],
        cwd=tree, env=env, capture_output=True, text=True,
    )
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", done.stdout, flags=re.MULTILINE)
    return done.returncode, failed, done.stdout[-2000:] + done.stderr[-2000:]


def _check_imports_from(tree):
    """Fail unless `lstm_bt` imports from `tree` and the copy has every module of the working
    tree: an installed (editable) lstm_bt would otherwise fill in what the copy lacks, and the
    mutants would be tested against other code."""
    missing = [str(path.relative_to(ROOT)) for path in sorted((ROOT / "lstm_bt").rglob("*.py"))
               if not (tree / path.relative_to(ROOT)).is_file()]
    done = subprocess.run([sys.executable, "-c", "import lstm_bt; print(lstm_bt.__file__)"],
                          cwd=tree, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(tree)))
    imported = Path(done.stdout.strip() or "/").resolve()
    if missing or not imported.is_relative_to(tree.resolve()):
        raise SystemExit(f"the copy in {tree} is incomplete ({missing}) or imports lstm_bt "
                         f"from {imported}")


def check(mutants, workdir):
    """Run the unmutated tests, then each mutant; returns the survivors' ids."""
    tests = sorted({test for mutant in mutants for test in mutant.tests})
    tree = workdir / "unmutated"
    shutil.copytree(ROOT, tree, ignore=_copy_ignored)
    _check_imports_from(tree)
    status, failed, tail = run_tests(tree, tests)
    if status != 0:
        print(f"the unmutated tests fail ({', '.join(failed) or f'exit {status}'}); "
              f"fix them first:\n{tail}")
        return [mutant.id for mutant in mutants]
    survivors = []
    for mutant in mutants:
        tree = workdir / mutant.id
        shutil.copytree(ROOT, tree, ignore=_copy_ignored)
        apply(mutant, tree)
        began = time.perf_counter()
        status, failed, tail = run_tests(tree, mutant.tests)
        spent = time.perf_counter() - began
        if status == 1 and failed:
            print(f"caught    {mutant.id:40} by {failed[0]}  ({spent:.0f} s)")
        else:
            survivors.append(mutant.id)
            why = "every test passed" if status == 0 else f"pytest exit {status}"
            print(f"SURVIVED  {mutant.id:40} {why}: {mutant.breaks}\n{tail if status else ''}")
        shutil.rmtree(tree, ignore_errors=True)
    return survivors


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ids", nargs="*", help="mutants to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--tests", nargs="+", metavar="PATH",
                        help="run these test files (or node ids) instead of each mutant's own")
    args = parser.parse_args(argv)
    known = {mutant.id: mutant for mutant in MUTANTS}
    if args.list:
        for mutant in MUTANTS:
            print(f"{mutant.id:40} {mutant.breaks}  [{', '.join(mutant.tests)}]")
        return 0
    unknown = [name for name in args.ids if name not in known]
    if unknown:
        print(f"unknown mutant ids {unknown}; see --list", file=sys.stderr)
        return 2
    chosen = [known[name] for name in args.ids] or list(MUTANTS)
    if args.tests:
        chosen = [replace(mutant, tests=tuple(args.tests)) for mutant in chosen]
    with tempfile.TemporaryDirectory(prefix="lstm-bt-mutants-") as workdir:
        try:
            # Every snippet is checked before anything runs, so a stale one fails at once.
            for mutant in chosen:
                probe = Path(workdir) / "probe"
                shutil.copytree(ROOT / "lstm_bt", probe / "lstm_bt", ignore=_IGNORED)
                apply(mutant, probe)
                shutil.rmtree(probe)
            survivors = check(chosen, Path(workdir))
        except StaleMutant as error:
            print(f"STALE: {error}", file=sys.stderr)
            return 2
    print(f"{len(chosen) - len(survivors)} of {len(chosen)} mutants caught"
          + (f"; survived: {', '.join(survivors)}" if survivors else ""))
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
