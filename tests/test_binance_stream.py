"""`ClosedKlines` against a fake Binance on 127.0.0.1 playing 1-second bars in real time.

Whatever the stream does, the bars handed over equal the bars served: each once, in order, no
gap; the status follows backfilling -> live -> reconnecting -> ... -> live.

A scenario waits on the clock (bars close once a second), not on the CPU: the scenarios are
played at once, each on its own fake in its own thread (the `played` fixture), and each test
asserts on what its scenario saw. Tests that look at every thread of the process play alone.
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
from helpers.fake_binance import FakeBinance

from lstm_bt.binance.stream import ClosedKlines
from lstm_bt.errors import BinanceError, InvalidParameter

# Bars are 1 s: a short grace (less than a bar), and silence is 4-5 missed updates.
FAST = {"late_grace_s": 0.5, "silence_s": 1.5, "max_backoff_s": 2.0}
WAIT_S = 20.0  # far beyond what any test needs; only a broken source gets near it


def closed_klines(fake, after_ms, **options):
    return ClosedKlines(fake.symbol, fake.step.name, after_ms=after_ms, base_url=fake.rest_url,
                        stream_url=fake.stream_url, **{**FAST, **options})


def collect(source, last_ms=None, statuses=None, until=None):
    """The bars `source` hands over up to the one opening at `last_ms` (or, without it, until
    `until(statuses)` is true), and the statuses seen."""
    bars, statuses = [], statuses if statuses is not None else [source.status]
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        bar = source.get(timeout=0.1)
        if source.status != statuses[-1]:
            statuses.append(source.status)
        if bar is not None:
            bars.append(bar)
            if last_ms is not None and bar[0] >= last_ms:
                break
        if until is not None and until(statuses):
            break
    return bars, statuses


def threads_left(before, wait_s=3.0):
    """Threads alive beyond `before`, once the fake's side of closed connections has ended."""
    deadline = time.monotonic() + wait_s
    while (left := set(threading.enumerate()) - before) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def kline_starts(fake):
    return [int(request.params["startTime"]) for request in fake.rest.klines_requests]


SCENARIOS = {}


def scenario(**fake_options):
    """Register the decorated function as a scenario: `played` calls it with its own
    `FakeBinance(history=30, **fake_options)`; it returns what its test asserts on."""
    def register(play):
        SCENARIOS[play.__name__] = (play, {"history": 30, **fake_options})
        return play
    return register


def _play(play, fake_options):
    with FakeBinance(**fake_options) as fake:
        return play(fake)


class _Outcomes(dict):
    """name -> the scenario's outcome; a scenario that failed raises its error here."""

    def __getitem__(self, name):
        return super().__getitem__(name).result()


@pytest.fixture(scope="module")
def played():
    """Every scenario, played at once; returned when all have ended."""
    with ThreadPoolExecutor(max_workers=len(SCENARIOS)) as pool:
        futures = {name: pool.submit(_play, play, options)
                   for name, (play, options) in SCENARIOS.items()}
    return _Outcomes(futures)


@pytest.fixture
def fake():
    with FakeBinance(history=30) as server:
        yield server


@scenario()
def clean(fake):
    after_ms = fake.open_ms(-6)
    with closed_klines(fake, after_ms) as source:
        bars, statuses = collect(source, fake.open_ms(-1) + 3000)
    return SimpleNamespace(fake=fake, after_ms=after_ms, bars=bars, statuses=statuses)


def test_clean_stream_hands_over_every_closed_bar_once_in_order(played):
    run = played["clean"]
    assert run.bars == run.fake.closed_bars(run.after_ms, run.bars[-1][0])
    assert run.statuses == ["backfilling", "live"]
    # The history came over REST once; every later bar came from the stream.
    assert kline_starts(run.fake) == [run.after_ms + 1000]
    assert len(run.fake.connections) == 1


@scenario()
def dropped(fake):
    after_ms = fake.open_ms(-3)
    with closed_klines(fake, after_ms) as source:
        bars, statuses = collect(source, fake.open_ms(-1) + 1000)
        # Down long enough that closed candles are missed on the stream.
        missed = fake.drop(outage_s=1.5)
        bars += collect(source, missed[0] + 4000, statuses)[0]
    return SimpleNamespace(fake=fake, after_ms=after_ms, bars=bars, statuses=statuses,
                           missed=missed)


def test_connection_dropped_mid_bar_loses_nothing(played):
    run = played["dropped"]
    assert run.bars == run.fake.closed_bars(run.after_ms, run.bars[-1][0])
    assert run.statuses == ["backfilling", "live", "reconnecting", "backfilling", "live"]
    assert run.fake.connections[0].close_code == 1006
    assert run.missed[0] in kline_starts(run.fake)


@scenario()
def gap_on_reconnect(fake):
    after_ms = fake.open_ms(-3)
    # No late rule here: only the fill on reconnecting can fetch bar k before k + 2 closes.
    with closed_klines(fake, after_ms, late_grace_s=5.0, max_backoff_s=0.25) as source:
        bars, statuses = collect(source, fake.open_ms(-1) + 1000)
        missed = fake.drop(outage_s=1.2)[0]  # bar k closes while the stream is refused
        fake.withhold_closed(start_ms=missed + 1000)
        bars += collect(source, missed + 3000, statuses)[0]
    return SimpleNamespace(fake=fake, after_ms=after_ms, bars=bars, missed=missed)


def test_reconnecting_fills_the_gap_before_the_stream_shows_it(played):
    run = played["gap_on_reconnect"]
    assert run.bars == run.fake.closed_bars(run.after_ms, run.bars[-1][0])
    # Filled from k on reconnecting; k + 1 then fetched when k + 2's candle showed the gap.
    assert kline_starts(run.fake) == [run.after_ms + 1000, run.missed, run.missed + 1000]


@scenario()
def repeated(fake):
    after_ms = fake.open_ms(-3)
    with closed_klines(fake, after_ms) as source:
        bars, statuses = collect(source, fake.open_ms(-1) + 1000)
        repeated = fake.repeat_closed(times=3)
        bars += collect(source, repeated[-1] + 2000, statuses)[0]
    return SimpleNamespace(fake=fake, after_ms=after_ms, bars=bars, statuses=statuses)


def test_repeated_closed_candles_change_nothing(played):
    run = played["repeated"]
    assert run.bars == run.fake.closed_bars(run.after_ms, run.bars[-1][0])
    assert run.statuses == ["backfilling", "live"]
    assert kline_starts(run.fake) == [run.after_ms + 1000]  # a repeat is no gap to fill


@scenario(ping_interval=0.3, ping_timeout=0.5)
def silent(fake):
    after_ms = fake.open_ms(-3)
    with closed_klines(fake, after_ms) as source:
        bars, statuses = collect(source, fake.open_ms(-1) + 1000)
        silent = fake.go_silent(3.0)
        bars += collect(source, silent[-1] + 2000, statuses)[0]
    return SimpleNamespace(fake=fake, after_ms=after_ms, bars=bars, statuses=statuses,
                           silent=silent)


def test_silent_stream_that_answers_pings_is_replaced_and_bars_come_over_rest(played):
    run = played["silent"]
    assert run.bars == run.fake.closed_bars(run.after_ms, run.bars[-1][0])
    assert run.statuses[:3] == ["backfilling", "live", "reconnecting"]
    assert run.statuses[-1] == "live"
    # The client gave up on the silent connection (1000: its own close), pings or not.
    assert run.fake.connections[0].close_code == 1000
    assert set(run.silent[:2]) <= set(kline_starts(run.fake))


@scenario()
def withheld(fake):
    after_ms = fake.open_ms(-3)
    with closed_klines(fake, after_ms) as source:
        bars, statuses = collect(source, fake.open_ms(-1) + 1000)
        withheld = fake.withhold_closed(times=3)
        bars += collect(source, withheld[-1] + 2000, statuses)[0]
    return SimpleNamespace(fake=fake, after_ms=after_ms, bars=bars, statuses=statuses,
                           withheld=withheld)


def test_withheld_closed_candle_is_fetched_once_its_grace_has_passed(played):
    run = played["withheld"]
    assert run.bars == run.fake.closed_bars(run.after_ms, run.bars[-1][0])
    assert run.statuses == ["backfilling", "live"]
    # Each withheld bar was asked for on its own: the grace ran out before the next close.
    assert set(run.withheld) <= set(kline_starts(run.fake))
    assert len(run.fake.connections) == 1


@scenario()
def late(fake):
    after_ms = fake.open_ms(-3)
    # A grace longer than a bar: the next bar's candle comes before the late one is fetched.
    with closed_klines(fake, after_ms, late_grace_s=1.5) as source:
        bars, statuses = collect(source, fake.open_ms(-1) + 1000)
        late = fake.delay_closed(2.5)
        bars += collect(source, late[0] + 4000, statuses)[0]
    return SimpleNamespace(fake=fake, after_ms=after_ms, bars=bars, statuses=statuses)


def test_closed_candle_arriving_late_and_out_of_order_changes_nothing(played):
    run = played["late"]
    assert run.bars == run.fake.closed_bars(run.after_ms, run.bars[-1][0])
    assert run.statuses == ["backfilling", "live"]


@scenario()
def corrupt(fake):
    after_ms = fake.open_ms(-3)
    with closed_klines(fake, after_ms) as source:
        bars, statuses = collect(source, fake.open_ms(-1) + 1000)
        corrupt = fake.corrupt_closed(times=2)
        bars += collect(source, corrupt[-1] + 2000, statuses)[0]
    return SimpleNamespace(fake=fake, after_ms=after_ms, bars=bars, corrupt=corrupt)


def test_closed_candle_that_cannot_be_a_bar_is_taken_from_rest(played):
    run = played["corrupt"]
    assert run.bars == run.fake.closed_bars(run.after_ms, run.bars[-1][0])
    assert set(run.corrupt) <= set(kline_starts(run.fake))


@scenario(absent=(33,))
def absent(fake):
    after_ms = fake.open_ms(29)
    with closed_klines(fake, after_ms) as source:
        bars, statuses = collect(source, fake.open_ms(36))
    return SimpleNamespace(fake=fake, after_ms=after_ms, bars=bars, statuses=statuses)


def test_bar_binance_never_had_is_skipped_as_rest_shows_it(played):
    run = played["absent"]
    fake, after_ms, bars = run.fake, run.after_ms, run.bars
    assert [open_ms for open_ms, _ in bars] == [fake.open_ms(i) for i in (30, 31, 32, 34, 35, 36)]
    assert bars == fake.closed_bars(after_ms, fake.open_ms(36))
    assert run.statuses == ["backfilling", "live"]
    # Asked for once when late; then settled, so the next bar came from the stream.
    assert kline_starts(fake) == [after_ms + 1000, fake.open_ms(33)]


@scenario()
def rest_down_when_late(fake):
    after_ms = fake.open_ms(-3)
    with closed_klines(fake, after_ms, late_grace_s=0.1) as source:
        bars, statuses = collect(source, fake.open_ms(-1) + 1000)
        withheld = fake.withhold_closed(times=4)
        fake.rest.go_down_after(0)  # every request dropped
        fake.wait_for_close(withheld[1])
        time.sleep(2.0)
        fake.rest.go_down_after(None)
        bars += collect(source, withheld[-1] + 1000, statuses)[0]
    return SimpleNamespace(fake=fake, after_ms=after_ms, bars=bars, statuses=statuses)


def test_rest_down_when_a_bar_is_late_is_tried_again_until_it_answers(played):
    run = played["rest_down_when_late"]
    assert run.bars == run.fake.closed_bars(run.after_ms, run.bars[-1][0])
    assert run.statuses == ["backfilling", "live"]
    dropped = [request for request in run.fake.rest.klines_requests if request.status is None]
    assert len(dropped) >= 4  # at least two fills of three attempts failed, then it answered


@scenario()
def server_shutdown(fake):
    after_ms = fake.open_ms(-3)
    with closed_klines(fake, after_ms) as source:
        bars, statuses = collect(source, fake.open_ms(-1) + 1000)
        announced = time.time()
        affected = fake.announce_shutdown(grace_s=30.0)
        bars += collect(source, affected[0] + 3000, statuses)[0]
    return SimpleNamespace(fake=fake, after_ms=after_ms, bars=bars, statuses=statuses,
                           announced=announced)


def test_server_shutdown_rotates_to_a_new_connection(played):
    run = played["server_shutdown"]
    assert run.bars == run.fake.closed_bars(run.after_ms, run.bars[-1][0])
    assert run.statuses == ["backfilling", "live", "reconnecting", "backfilling", "live"]
    # The client left on the announcement, long before the server would have closed.
    assert run.fake.connections[0].close_code == 1000
    assert run.fake.connections[0].closed_at < run.announced + 30.0
    assert len(run.fake.connections) == 2


@scenario(max_connection_s=1.5)
def age_limit(fake):
    after_ms = fake.open_ms(-3)
    with closed_klines(fake, after_ms) as source:
        # Until the third connection has caught up (a fixed count of bars would make it
        # depend on when in a second the scenario began).
        bars, statuses = collect(source, until=lambda statuses: len(fake.connections) >= 3
                                 and statuses[-1] == "live")
    return SimpleNamespace(fake=fake, after_ms=after_ms, bars=bars, statuses=statuses)


def test_connection_closed_at_its_age_limit_is_reopened(played):
    run = played["age_limit"]
    assert run.bars == run.fake.closed_bars(run.after_ms, run.bars[-1][0])
    assert len(run.fake.connections) >= 3
    assert run.statuses[:3] == ["backfilling", "live", "reconnecting"]
    assert run.statuses[-1] == "live"


@scenario()
def client_rotates(fake):
    after_ms = fake.open_ms(-3)
    with closed_klines(fake, after_ms, rotate_s=1.5) as source:
        bars, _ = collect(source, until=lambda _: len(fake.connections) >= 3)
    return SimpleNamespace(fake=fake, after_ms=after_ms, bars=bars)


def test_client_rotates_connections_before_their_age_limit(played):
    run = played["client_rotates"]
    assert run.bars == run.fake.closed_bars(run.after_ms, run.bars[-1][0])
    assert len(run.fake.connections) >= 3
    assert all(connection.close_code == 1000 for connection in run.fake.connections[:-1])


# Many updates a bar: a connection whose messages nobody reads stops reading its socket.
@scenario(updates_per_bar=20, ping_interval=0.3, ping_timeout=1.0)
def busy_caller(fake):
    after_ms = fake.open_ms(-3)
    with closed_klines(fake, after_ms) as source:
        bars, statuses = collect(source, fake.open_ms(-1))
        time.sleep(5.0)  # a model training, far longer than the server's ping timeout
        bars += collect(source, fake.open_ms(-1) + 1000, statuses)[0]
        close_codes = [connection.close_code for connection in fake.connections]
    return SimpleNamespace(fake=fake, after_ms=after_ms, bars=bars, statuses=statuses,
                           close_codes=close_codes)


def test_pings_are_answered_while_the_caller_is_busy(played):
    run = played["busy_caller"]
    assert run.bars == run.fake.closed_bars(run.after_ms, run.bars[-1][0])
    assert run.statuses == ["backfilling", "live"]
    assert run.close_codes == [None]  # one connection, still open


def test_close_stops_every_thread_it_started(fake):
    before = set(threading.enumerate())
    source = closed_klines(fake, fake.open_ms(-3)).start()
    collect(source, fake.open_ms(-1) + 1000)
    source.close()

    assert source.status == "stopped"
    assert threads_left(before) == set()


# Its own symbol: its thread is told from the other scenarios' by its name.
@scenario(symbol="ETHUSDT")
def close_while_backing_off(fake):
    fake.drop(outage_s=60.0)
    source = closed_klines(fake, fake.open_ms(-3), max_backoff_s=30.0).start()
    deadline = time.monotonic() + WAIT_S
    while fake.refused < 4 and time.monotonic() < deadline:  # then it waits 4 s
        time.sleep(0.05)
    source.close(timeout=1.0)
    return SimpleNamespace(threads=[thread.name for thread in threading.enumerate()])


def test_close_cuts_short_the_wait_before_reconnecting(played):
    run = played["close_while_backing_off"]
    assert not any(name.startswith("lstm-bt stream ETHUSDT") for name in run.threads)


@scenario()
def stream_refused(fake):
    after_ms = fake.open_ms(-3)
    fake.drop(outage_s=60.0)
    with closed_klines(fake, after_ms) as source:
        bars, statuses = collect(source, fake.open_ms(-1) + 3000)
    return SimpleNamespace(fake=fake, after_ms=after_ms, bars=bars, statuses=statuses)


def test_bars_keep_coming_over_rest_while_the_stream_is_refused(played):
    run = played["stream_refused"]
    assert run.bars == run.fake.closed_bars(run.after_ms, run.bars[-1][0])
    assert run.statuses == ["backfilling", "reconnecting"]
    assert run.fake.connections == []
    assert run.fake.refused <= 5  # tried after 0, 0.5, 1.5, 3.5 s: backing off, no hot loop


@scenario()
def rest_down(fake):
    fake.rest.go_down_after(0)
    fake.wait_for_close(fake.open_ms(-1))  # a whole bar to connect in
    after_ms = fake.open_ms(-2)
    with closed_klines(fake, after_ms) as source:
        bars, statuses = collect(source, fake.open_ms(-1) + 2000)
    return SimpleNamespace(fake=fake, after_ms=after_ms, bars=bars, statuses=statuses)


def test_stream_bars_in_order_are_live_while_rest_is_down(played):
    run = played["rest_down"]
    assert run.bars == run.fake.closed_bars(run.after_ms, run.bars[-1][0])
    assert run.statuses == ["backfilling", "live"]
    assert {request.status for request in run.fake.rest.klines_requests} == {None}


def test_unknown_symbol_is_raised_by_get_and_stops_the_source(fake):
    source = ClosedKlines("NOPEUSDT", "1s", after_ms=fake.open_ms(-3), base_url=fake.rest_url,
                          stream_url=fake.stream_url, **FAST).start()
    with pytest.raises(BinanceError, match="Unknown symbol 'NOPEUSDT'"):
        collect(source, fake.open_ms(-1) + 5000)
    source.close()
    assert source.status == "stopped"


@pytest.mark.parametrize("name, value", [("late_grace_s", 0), ("silence_s", -1.0),
                                         ("rotate_s", float("nan")), ("max_backoff_s", "5")])
def test_bad_seconds_are_refused_naming_the_argument(name, value):
    with pytest.raises(InvalidParameter, match=f"`{name}`, expected a positive number"):
        ClosedKlines("BTCUSDT", "1m", after_ms=0, **{name: value})


def test_bad_stream_url_is_refused():
    with pytest.raises(InvalidParameter, match="--stream-url"):
        ClosedKlines("BTCUSDT", "1m", after_ms=0, stream_url="http://example.com")
