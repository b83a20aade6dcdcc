"""Open a page in headless Chromium over the DevTools protocol and report what happened.

A small client (tornado's websocket, a dependency of Bokeh) instead of `--dump-dom`: it sees
console errors and uncaught exceptions as events, every network request the page makes, and
can evaluate JavaScript once the page has rendered. Used by the report.html test and by
benchmarks/bench_report.py (time to open).
"""

import asyncio
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--remote-debugging-port=0",
         "--window-size=1300,1000")


def find_chromium():
    """Path of a Chromium on PATH, or None."""
    return next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)


@dataclass
class PageVisit:
    """What one page load did."""

    errors: list = field(default_factory=list)      # console errors, uncaught exceptions
    requests: list = field(default_factory=list)    # every URL the page asked for
    value: object = None                            # the `ready` expression's last value
    ready_s: float = None                           # seconds from navigate to `ready` truthy


def visit(url, ready, timeout=30.0, binary=None):
    """Load `url` in a fresh headless Chromium and wait until JS `ready` is truthy.

    Args:
        url: e.g. `file:///tmp/report.html`.
        ready: a JavaScript expression, evaluated every 50 ms after navigation; its value
            (JSON-serializable) is kept when it turns truthy.
        timeout: seconds to wait for `ready`. Defaults to `30.0`.
        binary: the browser. Defaults to `find_chromium()`.

    Returns:
        A `PageVisit`; `ready_s` is None when `ready` never turned truthy.
    """
    binary = binary or find_chromium()
    profile = tempfile.mkdtemp(prefix="lstm-bt-chromium-")
    process = subprocess.Popen([binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        endpoint = _devtools_endpoint(process, timeout)
        return asyncio.run(_drive(endpoint, url, ready, timeout))
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(profile, ignore_errors=True)


def _devtools_endpoint(process, timeout):
    deadline = time.monotonic() + timeout
    for line in process.stderr:
        found = re.search(r"DevTools listening on (ws://\S+)", line)
        if found:
            return found.group(1)
        if time.monotonic() > deadline:
            break
    raise RuntimeError("Chromium did not print its DevTools endpoint")


async def _drive(endpoint, url, ready, timeout):
    from tornado.websocket import websocket_connect

    socket = await websocket_connect(endpoint, max_message_size=64 * 2**20)
    visit_ = PageVisit()
    counter = iter(range(1, 10**9))
    pending = {}

    async def reader():
        while (message := await socket.read_message()) is not None:
            event = json.loads(message)
            if "id" in event and event["id"] in pending:
                pending.pop(event["id"]).set_result(event)
                continue
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                visit_.errors.append(details.get("exception", {}).get("description")
                                     or details.get("text"))
            elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
                visit_.errors.append(" ".join(str(a.get("value", a.get("description")))
                                              for a in params["args"]))
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                visit_.errors.append(params["entry"]["text"])
            elif method == "Network.requestWillBeSent":
                visit_.requests.append(params["request"]["url"])

    async def call(method, session=None, **params):
        number = next(counter)
        pending[number] = asyncio.get_running_loop().create_future()
        message = {"id": number, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        await socket.write_message(json.dumps(message))
        answer = await asyncio.wait_for(pending[number], timeout)
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer["result"]

    task = asyncio.create_task(reader())
    try:
        target = (await call("Target.createTarget", url="about:blank"))["targetId"]
        session = (await call("Target.attachToTarget", targetId=target, flatten=True))[
            "sessionId"]
        for domain in ("Runtime", "Log", "Network", "Page"):
            await call(f"{domain}.enable", session)
        began = time.perf_counter()
        await call("Page.navigate", session, url=url)
        while time.perf_counter() - began < timeout:
            result = (await call("Runtime.evaluate", session, expression=ready,
                                 returnByValue=True))["result"]
            if result.get("value"):
                visit_.value, visit_.ready_s = result["value"], time.perf_counter() - began
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # late errors from rendering after `ready`
    finally:
        task.cancel()
        socket.close()
    return visit_


def env_without_display():
    """The environment for Chromium: no DISPLAY, so headless never reaches for X."""
    return {key: value for key, value in os.environ.items() if key != "DISPLAY"}
