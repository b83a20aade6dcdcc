"""The fake exchange's WebSocket API: `userDataStream.subscribe.signature` and its events.

A subscription's params (`apiKey`, `timestamp`, `recvWindow`, `signature`) are checked as the
real server does: signature over the params sorted by name, timestamp within the window. Events
are sent as `{"subscriptionId": n, "event": {...}}`. `drop()` cuts every connection without a
close frame (a user data stream that drops); `refuse = True` makes new connections fail.
"""

import base64
import hashlib
import hmac
import json
import queue
import socket
import threading

from cryptography.exceptions import InvalidSignature
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import serve


class FakeWsApi:
    """User data subscriptions for one `FakeExchange`.

    Attributes:
        url: the WebSocket API root, e.g. `ws://127.0.0.1:54322/ws-api/v3`.
        refuse: close new connections before the handshake.
        subscriptions: subscriptions accepted so far.
        requests: every request message received, parsed.
    """

    def __init__(self, exchange):
        self.exchange = exchange
        self.refuse = False
        self.subscriptions = 0
        self.requests = []
        self._queues = []
        self._connections = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = serve(self._handle, "127.0.0.1", 0, process_request=self._gate,
                             ping_interval=None)
        self.url = f"ws://127.0.0.1:{self._server.socket.getsockname()[1]}/ws-api/v3"

    def start(self):
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self):
        self._stopping.set()
        self._server.shutdown()

    def push(self, event):
        with self._lock:
            for events in self._queues:
                events.put(event)

    def drop(self):
        """Cut every open connection, as a network failure would."""
        with self._lock:
            for connection in self._connections:
                try:
                    connection.socket.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def connected(self):
        with self._lock:
            return len(self._queues)

    def _gate(self, connection, request):
        if self.refuse:
            return connection.respond(503, "WebSocket API unavailable\n")
        return None

    def _handle(self, connection):
        events = queue.Queue()
        try:
            request = json.loads(connection.recv(timeout=10))
            self.requests.append(request)
            answer = self._subscribe(request)
            connection.send(json.dumps(answer))
            if answer["status"] != 200:
                return
            with self._lock:
                self._queues.append(events)
                self._connections.append(connection)
            while not self._stopping.is_set():
                try:
                    event = events.get(timeout=0.05)
                except queue.Empty:
                    continue
                connection.send(json.dumps({"subscriptionId": answer["result"][
                    "subscriptionId"], "event": event}))
        except (ConnectionClosed, OSError, TimeoutError, ValueError):
            pass
        finally:
            with self._lock:
                if events in self._queues:
                    self._queues.remove(events)
                if connection in self._connections:
                    self._connections.remove(connection)

    def _subscribe(self, request):
        params = request.get("params", {})
        reply = {"id": request.get("id")}
        if request.get("method") != "userDataStream.subscribe.signature":
            return {**reply, "status": 400, "error": {"code": -1000, "msg": "unknown method"}}
        key = self.exchange.keys.get(params.get("apiKey"))
        payload = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "signature")
        if key is None:
            return {**reply, "status": 401, "error": {"code": -2015, "msg": "Invalid API-key"}}
        if not verify(key, payload, params.get("signature", "")):
            return {**reply, "status": 400, "error": {"code": -1022, "msg": "bad signature"}}
        now = self.exchange.server_ms()
        if not now - float(params.get("recvWindow", 5000)) <= params.get("timestamp", 0) \
                < now + 1000:
            return {**reply, "status": 400, "error": {"code": -1021, "msg": "bad timestamp"}}
        with self._lock:
            number = self.subscriptions
            self.subscriptions += 1
        return {**reply, "status": 200, "result": {"subscriptionId": number}}


def verify(key, payload, signature):
    """Whether `signature` signs `payload` with the registered `(kind, secret or public key)`."""
    kind, material = key
    if kind == "hmac":
        expected = hmac.new(material, payload.encode(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, signature.lower())
    try:
        material.verify(base64.b64decode(signature, validate=True), payload.encode())
    except (InvalidSignature, ValueError):
        return False
    return True
