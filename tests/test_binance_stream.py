"""`ClosedKlines` against a fake Binance on 127.0.0.1 playing 1-second bars in real time.

Whatever the stream does, the bars handed over equal the bars served: each once, in order, no
gap; the status follows backfilling -> live -> reconnecting -> ... -> live.
"""

import threading
import time

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


def collect(source, last_ms, statuses=None):
    """The bars `source` hands over up to the one opening at `last_ms`, and the statuses seen."""
    bars, statuses = [], statuses if statuses is not None else [source.status]
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        bar = source.get(timeout=0.1)
        if source.status != statuses[-1]:
            statuses.append(source.status)
        if bar is not None:
            bars.append(bar)
            if bar[0] >= last_ms:
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


@pytest.fixture
def fake():
    with FakeBinance(history=30) as server:
        yield server


def test_clean_stream_hands_over_every_closed_bar_once_in_order(fake):
    after_ms = fake.open_ms(-6)
    with closed_klines(fake, after_ms) as source:
        bars, statuses = collect(source, fake.open_ms(-1) + 3000)

    assert bars == fake.closed_bars(after_ms, bars[-1][0])
    assert statuses == ["backfilling", "live"]
    # The history came over REST once; every later bar came from the stream.
    assert kline_starts(fake) == [after_ms + 1000]
    assert len(fake.connections) == 1


def test_connection_dropped_mid_bar_loses_nothing(fake):
    after_ms = fake.open_ms(-3)
    with closed_klines(fake, after_ms) as source:
        bars, statuses = collect(source, fake.open_ms(-1) + 1000)
        # Down long enough that closed candles are missed on the stream.
        missed = fake.drop(outage_s=1.5)
        bars += collect(source, missed[0] + 4000, statuses)[0]

    assert bars == fake.closed_bars(after_ms, bars[-1][0])
    assert statuses == ["backfilling", "live", "reconnecting", "backfilling", "live"]
    assert fake.connections[0].close_code == 1006
    assert missed[0] in kline_starts(fake)


def test_reconnecting_fills_the_gap_before_the_stream_shows_it(fake):
    after_ms = fake.open_ms(-3)
    # No late rule here: only the fill on reconnecting can fetch bar k before k + 2 closes.
    with closed_klines(fake, after_ms, late_grace_s=5.0, max_backoff_s=0.25) as source:
        bars, statuses = collect(source, fake.open_ms(-1) + 1000)
        missed = fake.drop(outage_s=1.2)[0]  # bar k closes while the stream is refused
        fake.withhold_closed(start_ms=missed + 1000)
        bars += collect(source, missed + 3000, statuses)[0]

    assert bars == fake.closed_bars(after_ms, bars[-1][0])
    # Filled from k on reconnecting; k + 1 then fetched when k + 2's candle showed the gap.
    assert kline_starts(fake) == [after_ms + 1000, missed, missed + 1000]


def test_repeated_closed_candles_change_nothing(fake):
    after_ms = fake.open_ms(-3)
    with closed_klines(fake, after_ms) as source:
        bars, statuses = collect(source, fake.open_ms(-1) + 1000)
        repeated = fake.repeat_closed(times=3)
        bars += collect(source, repeated[-1] + 2000, statuses)[0]

    assert bars == fake.closed_bars(after_ms, bars[-1][0])
    assert statuses == ["backfilling", "live"]
    assert kline_starts(fake) == [after_ms + 1000]  # a repeat is no gap to fill


def test_silent_stream_that_answers_pings_is_replaced_and_bars_come_over_rest():
    with FakeBinance(history=30, ping_interval=0.3, ping_timeout=0.5) as fake:
        after_ms = fake.open_ms(-3)
        with closed_klines(fake, after_ms) as source:
            bars, statuses = collect(source, fake.open_ms(-1) + 1000)
            silent = fake.go_silent(3.0)
            bars += collect(source, silent[-1] + 2000, statuses)[0]

    assert bars == fake.closed_bars(after_ms, bars[-1][0])
    assert statuses[:3] == ["backfilling", "live", "reconnecting"]
    assert statuses[-1] == "live"
    # The client gave up on the silent connection (1000: its own close), pings or not.
    assert fake.connections[0].close_code == 1000
    assert set(silent[:2]) <= set(kline_starts(fake))


def test_withheld_closed_candle_is_fetched_once_its_grace_has_passed(fake):
    after_ms = fake.open_ms(-3)
    with closed_klines(fake, after_ms) as source:
        bars, statuses = collect(source, fake.open_ms(-1) + 1000)
        withheld = fake.withhold_closed(times=3)
        bars += collect(source, withheld[-1] + 2000, statuses)[0]

    assert bars == fake.closed_bars(after_ms, bars[-1][0])
    assert statuses == ["backfilling", "live"]
    # Each withheld bar was asked for on its own: the grace ran out before the next close.
    assert set(withheld) <= set(kline_starts(fake))
    assert len(fake.connections) == 1


def test_closed_candle_arriving_late_and_out_of_order_changes_nothing(fake):
    after_ms = fake.open_ms(-3)
    # A grace longer than a bar: the next bar's candle comes before the late one is fetched.
    with closed_klines(fake, after_ms, late_grace_s=1.5) as source:
        bars, statuses = collect(source, fake.open_ms(-1) + 1000)
        late = fake.delay_closed(2.5)
        bars += collect(source, late[0] + 4000, statuses)[0]

    assert bars == fake.closed_bars(after_ms, bars[-1][0])
    assert statuses == ["backfilling", "live"]


def test_closed_candle_that_cannot_be_a_bar_is_taken_from_rest(fake):
    after_ms = fake.open_ms(-3)
    with closed_klines(fake, after_ms) as source:
        bars, statuses = collect(source, fake.open_ms(-1) + 1000)
        corrupt = fake.corrupt_closed(times=2)
        bars += collect(source, corrupt[-1] + 2000, statuses)[0]

    assert bars == fake.closed_bars(after_ms, bars[-1][0])
    assert set(corrupt) <= set(kline_starts(fake))


def test_bar_binance_never_had_is_skipped_as_rest_shows_it():
    with FakeBinance(history=30, absent=(33,)) as fake:
        after_ms = fake.open_ms(29)
        with closed_klines(fake, after_ms) as source:
            bars, statuses = collect(source, fake.open_ms(36))

    assert [open_ms for open_ms, _ in bars] == [fake.open_ms(i) for i in (30, 31, 32, 34, 35, 36)]
    assert bars == fake.closed_bars(after_ms, fake.open_ms(36))
    assert statuses == ["backfilling", "live"]
    # Asked for once when late; then settled, so the next bar came from the stream.
    assert kline_starts(fake) == [after_ms + 1000, fake.open_ms(33)]


def test_rest_down_when_a_bar_is_late_is_tried_again_until_it_answers(fake):
    after_ms = fake.open_ms(-3)
    with closed_klines(fake, after_ms, late_grace_s=0.1) as source:
        bars, statuses = collect(source, fake.open_ms(-1) + 1000)
        withheld = fake.withhold_closed(times=4)
        fake.rest.go_down_after(0)  # every request dropped
        fake.wait_for_close(withheld[1])
        time.sleep(2.0)
        fake.rest.go_down_after(None)
        bars += collect(source, withheld[-1] + 1000, statuses)[0]

    assert bars == fake.closed_bars(after_ms, bars[-1][0])
    assert statuses == ["backfilling", "live"]
    dropped = [request for request in fake.rest.klines_requests if request.status is None]
    assert len(dropped) >= 4  # at least two fills of three attempts failed, then it answered


def test_server_shutdown_rotates_to_a_new_connection(fake):
    after_ms = fake.open_ms(-3)
    with closed_klines(fake, after_ms) as source:
        bars, statuses = collect(source, fake.open_ms(-1) + 1000)
        announced = time.time()
        affected = fake.announce_shutdown(grace_s=30.0)
        bars += collect(source, affected[0] + 3000, statuses)[0]

    assert bars == fake.closed_bars(after_ms, bars[-1][0])
    assert statuses == ["backfilling", "live", "reconnecting", "backfilling", "live"]
    # The client left on the announcement, long before the server would have closed.
    assert fake.connections[0].close_code == 1000
    assert fake.connections[0].closed_at < announced + 30.0
    assert len(fake.connections) == 2


def test_connection_closed_at_its_age_limit_is_reopened():
    with FakeBinance(history=30, max_connection_s=1.5) as fake:
        after_ms = fake.open_ms(-3)
        with closed_klines(fake, after_ms) as source:
            bars, statuses = collect(source, fake.open_ms(-1) + 4000)

    assert bars == fake.closed_bars(after_ms, bars[-1][0])
    assert len(fake.connections) >= 3
    assert statuses[:3] == ["backfilling", "live", "reconnecting"]
    assert statuses[-1] == "live"


def test_client_rotates_connections_before_their_age_limit(fake):
    after_ms = fake.open_ms(-3)
    with closed_klines(fake, after_ms, rotate_s=1.5) as source:
        bars, _ = collect(source, fake.open_ms(-1) + 4000)

    assert bars == fake.closed_bars(after_ms, bars[-1][0])
    assert len(fake.connections) >= 3
    assert all(connection.close_code == 1000 for connection in fake.connections[:-1])


def test_pings_are_answered_while_the_caller_is_busy():
    # Many updates a bar: a connection whose messages nobody reads stops reading its socket.
    with FakeBinance(history=30, updates_per_bar=20, ping_interval=0.3,
                     ping_timeout=1.0) as fake:
        after_ms = fake.open_ms(-3)
        with closed_klines(fake, after_ms) as source:
            bars, statuses = collect(source, fake.open_ms(-1))
            time.sleep(5.0)  # a model training, far longer than the server's ping timeout
            bars += collect(source, fake.open_ms(-1) + 1000, statuses)[0]
            close_codes = [connection.close_code for connection in fake.connections]

    assert bars == fake.closed_bars(after_ms, bars[-1][0])
    assert statuses == ["backfilling", "live"]
    assert close_codes == [None]  # one connection, still open


def test_close_stops_every_thread_it_started(fake):
    before = set(threading.enumerate())
    source = closed_klines(fake, fake.open_ms(-3)).start()
    collect(source, fake.open_ms(-1) + 1000)
    source.close()

    assert source.status == "stopped"
    assert threads_left(before) == set()


def test_close_cuts_short_the_wait_before_reconnecting(fake):
    fake.drop(outage_s=60.0)
    source = closed_klines(fake, fake.open_ms(-3), max_backoff_s=30.0).start()
    deadline = time.monotonic() + WAIT_S
    while fake.refused < 4 and time.monotonic() < deadline:  # then it waits 4 s
        time.sleep(0.05)
    source.close(timeout=1.0)

    assert not any(thread.name.startswith("lstm-bt stream") for thread in threading.enumerate())


def test_bars_keep_coming_over_rest_while_the_stream_is_refused(fake):
    after_ms = fake.open_ms(-3)
    fake.drop(outage_s=60.0)
    with closed_klines(fake, after_ms) as source:
        bars, statuses = collect(source, fake.open_ms(-1) + 3000)

    assert bars == fake.closed_bars(after_ms, bars[-1][0])
    assert statuses == ["backfilling", "reconnecting"]
    assert fake.connections == []
    assert fake.refused <= 5  # tried after 0, 0.5, 1.5, 3.5 s: backing off, no hot loop


def test_stream_bars_in_order_are_live_while_rest_is_down(fake):
    fake.rest.go_down_after(0)
    fake.wait_for_close(fake.open_ms(-1))  # a whole bar to connect in
    after_ms = fake.open_ms(-2)
    with closed_klines(fake, after_ms) as source:
        bars, statuses = collect(source, fake.open_ms(-1) + 2000)

    assert bars == fake.closed_bars(after_ms, bars[-1][0])
    assert statuses == ["backfilling", "live"]
    assert {request.status for request in fake.rest.klines_requests} == {None}


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
