"""Open a page in real headless Chromium (Debian's `chromium`) and report what a person would
meet: console errors and exceptions, every network request, the charts as drawn, a screenshot.
Driven over the DevTools protocol with a small websocket client (websocket-client)."""
from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--remote-debugging-port=0", "--remote-allow-origins=*")
# Each <svg> of the page: its drawn size and how many of its paths cover some area.
CHARTS_JS = """JSON.stringify([...document.querySelectorAll('svg')].map(s => {
  const box = s.getBoundingClientRect();
  const paths = [...s.querySelectorAll('path')];
  return {width: box.width, height: box.height, paths: paths.length,
          drawn: paths.filter(p => { const b = p.getBBox(); return b.width > 0 || b.height > 0; }).length};
}))"""


def require_chromium() -> None:
    """Skip without Chromium; fail where CI requires everything (CHOPSTICKS_REQUIRE_CEPH=1)."""
    if CHROMIUM:
        return
    reason = "Chromium is not installed (Debian package chromium; see scripts/bootstrap)"
    if os.environ.get("CHOPSTICKS_REQUIRE_CEPH") == "1":
        pytest.fail(f"{reason}, and CHOPSTICKS_REQUIRE_CEPH=1", pytrace=False)
    pytest.skip(reason)  # only without Chromium and without CHOPSTICKS_REQUIRE_CEPH=1 (CI installs it)


@dataclass
class PageVisit:
    errors: list[str] = field(default_factory=list)       # console errors, exceptions, log errors
    requests: list[str] = field(default_factory=list)     # every URL the page asked for but itself
    charts: list[dict] = field(default_factory=list)
    screenshot: bytes = b""


class DevTools:
    """A DevTools session on one page target: calls, with the events that arrive meanwhile."""

    def __init__(self, ws_url: str):
        import websocket

        self.ws = websocket.create_connection(ws_url, timeout=30, suppress_origin=True)
        self.next_id, self.events = 0, []

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, method: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == method for e in self.events):
            if time.monotonic() > deadline:
                raise AssertionError(f"no {method} within {timeout}s")
            self.events.append(json.loads(self.ws.recv()))

    def close(self) -> None:
        self.ws.close()


def _page_target(user_data_dir: Path, proc: subprocess.Popen) -> str:
    port_file = user_data_dir / "DevToolsActivePort"
    deadline = time.monotonic() + 30
    while not port_file.exists() or not port_file.read_text().strip():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"Chromium did not start: {proc.stderr.read().decode(errors='replace')[-2000:]}")
        time.sleep(0.05)
    port = port_file.read_text().split()[0]
    targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json", timeout=10).read())
    return next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")


def _stop(proc: subprocess.Popen) -> None:
    """End the browser and its helper processes (its own process group, started with it), and
    wait until they are gone, so they no longer write into the profile directory."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)


def visit(page: Path, width: int = 1200) -> PageVisit:
    """Load `page` (a local file) in headless Chromium and report what happened."""
    require_chromium()
    url = Path(page).resolve().as_uri()
    with tempfile.TemporaryDirectory(prefix="chopsticks-chromium-", ignore_cleanup_errors=True) as profile:
        proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},900",
                                 "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                start_new_session=True)
        try:
            tools = DevTools(_page_target(Path(profile), proc))
            try:
                for domain in ("Page", "Runtime", "Log", "Network"):
                    tools.call(f"{domain}.enable")
                tools.events.clear()
                tools.call("Page.navigate", url=url)
                tools.wait_for("Page.loadEventFired")
                result = PageVisit()
                result.charts = json.loads(tools.call("Runtime.evaluate", expression=CHARTS_JS)["result"]["value"])
                size = tools.call("Page.getLayoutMetrics")["cssContentSize"]
                shot = tools.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                                  clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1})
                result.screenshot = base64.b64decode(shot["data"])
            finally:
                tools.close()
        finally:
            _stop(proc)
    for e in tools.events:
        method, params = e.get("method"), e.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "warning", "assert"):
            result.errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            result.errors.append(params["exceptionDetails"].get("text", "exception"))
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            result.errors.append(params["entry"].get("text", ""))
        elif method == "Network.requestWillBeSent" and params["request"]["url"] != url:
            result.requests.append(params["request"]["url"])
    return result
