"""The account's user data stream, through the WebSocket API's signature subscription.

Binance retired listenKey streams: a connection to the WebSocket API subscribes with
`userDataStream.subscribe.signature` (API key, timestamp, signature over the sorted params),
then receives `{"subscriptionId": n, "event": {...}}` messages. A background thread keeps the
subscription up: it reconnects with growing waits after a drop or a `serverShutdown`, and
counts its connections so a caller can poll over REST for what a gap may have hidden. Pings are
answered by the websockets library.

Example:
    >>> stream = UserDataStream(url, key, tracker.on_event, client.server_ms)  # doctest: +SKIP
    >>> stream.start()  # doctest: +SKIP
"""

import itertools
import json
import logging
import threading

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.sync.client import connect

from .signing import ws_payload

__all__ = ["UserDataStream"]

logger = logging.getLogger(__name__)

_FAILURES = (OSError, TimeoutError, ConnectionClosed, InvalidHandshake, ValueError)


class UserDataStream:
    """Delivers the account's user data events to `on_event`, from a background thread.

    Args:
        url: the WebSocket API root, e.g. `wss://ws-api.binance.com:443/ws-api/v3`.
        api_key: the `ApiKey` whose account is followed.
        on_event: called with each event dict (`executionReport`, ...), in arrival order.
        server_ms: function giving Binance's time in ms (for the subscription's timestamp).
        recv_window_ms: the subscription request's `recvWindow`. Defaults to `5000`.
        backoff: first wait in seconds before reconnecting; doubles up to `max_backoff`.
            Defaults to `1.0`.
        max_backoff: longest wait between reconnections, in seconds. Defaults to `30.0`.
        open_timeout: seconds to connect and subscribe. Defaults to `10.0`.

    Attributes:
        connections: subscriptions made so far; a change tells a gap may have lost events.
        last_error: why the stream last went down, or `None`.
        failure: the exception `on_event` raised, which ended the stream; `None` while none
            did (the caller re-raises it).
    """

    def __init__(self, url, api_key, on_event, server_ms, *, recv_window_ms=5000, backoff=1.0,
                 max_backoff=30.0, open_timeout=10.0):
        self.url = url
        self.api_key = api_key
        self.on_event = on_event
        self.server_ms = server_ms
        self.recv_window_ms = recv_window_ms
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.open_timeout = open_timeout
        self.connections = 0
        self.last_error = None
        self.failure = None
        self._up = threading.Event()
        self._stopping = threading.Event()
        self._websocket = None
        self._ids = itertools.count(1)
        self._thread = None

    @property
    def up(self):
        """Whether a subscription is active now."""
        return self._up.is_set()

    def start(self):
        """Start following the stream in a daemon thread; returns self."""
        self._thread = threading.Thread(target=self._run, name="user-data-stream", daemon=True)
        self._thread.start()
        return self

    def wait_up(self, timeout):
        """Wait until a subscription is active; returns whether it is."""
        return self._up.wait(timeout)

    def stop(self):
        """Close the connection and end the thread."""
        self._stopping.set()
        websocket = self._websocket
        if websocket is not None:
            websocket.close()
        if self._thread is not None:
            self._thread.join(timeout=self.open_timeout + 1)

    def _run(self):
        delay = self.backoff
        while not self._stopping.is_set():
            try:
                with connect(self.url, open_timeout=self.open_timeout,
                             close_timeout=1) as websocket:
                    self._websocket = websocket
                    self._subscribe(websocket)
                    delay = self.backoff
                    self._follow(websocket)
                why = "the server closed the stream"
            except (InvalidURI, *_FAILURES) as error:
                why = f"{type(error).__name__}: {error}"
            finally:
                self._websocket = None
                self._up.clear()
            if self._stopping.is_set():
                return
            self.last_error = why
            logger.warning("user data stream down (%s); reconnecting in %.1f s", why, delay)
            self._stopping.wait(delay)
            delay = min(delay * 2, self.max_backoff)

    def _subscribe(self, websocket):
        params = {"apiKey": self.api_key.api_key, "recvWindow": self.recv_window_ms,
                  "timestamp": self.server_ms()}
        params["signature"] = self.api_key.sign(ws_payload(params))
        request_id = f"subscribe-{next(self._ids)}"
        websocket.send(json.dumps({"id": request_id, "method":
                                   "userDataStream.subscribe.signature", "params": params}))
        while True:
            answer = json.loads(websocket.recv(timeout=self.open_timeout))
            if answer.get("id") == request_id:
                break
        if answer.get("status") != 200:
            error = answer.get("error") or {}
            raise ValueError(f"subscription refused (code {error.get('code')}: "
                             f"{error.get('msg')})")
        self.connections += 1
        self.last_error = None
        self._up.set()
        logger.info("user data stream subscribed (%s)", self.url)

    def _follow(self, websocket):
        for message in websocket:
            event = json.loads(message).get("event")
            if not isinstance(event, dict):
                continue
            if event.get("e") in ("serverShutdown", "eventStreamTerminated"):
                logger.info("user data stream: %s; reconnecting", event["e"])
                return
            try:
                self.on_event(event)
            except Exception as error:  # noqa: BLE001 - handed to the caller's thread
                self.failure = error
                self._stopping.set()
                return
