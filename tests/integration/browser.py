"""A headless Chromium driven over the DevTools protocol (websocket-client only), for the web UI tests.

Debian's `chromium` is started with its own throw-away profile on a loopback debugging port; one page target is used.
Everything the page logs as an error (uncaught exceptions, console.error, failed loads) is collected, so a test can
assert that a page loaded without console errors. Input goes through Input.* events, so the page sees trusted key and
mouse events as from a person."""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import requests
import websocket

from processes import track

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def chromium_binary() -> str:
    for name in CHROMIUM_CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    raise AssertionError("no chromium found: scripts/test installs Debian's chromium package")


class BrowserError(AssertionError):
    pass


class Browser:
    def __init__(self, artifacts: Path, width: int = 1440, height: int = 900):
        self.artifacts = artifacts
        self.artifacts.mkdir(parents=True, exist_ok=True)
        self.profile = Path(tempfile.mkdtemp(prefix="sightline-chromium-"))
        self.log_path = self.profile / "chromium.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [chromium_binary(), "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
                 "--disable-sync", "--disable-component-update", "--mute-audio", "--hide-scrollbars",
                 f"--window-size={width},{height}", "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
                 f"--user-data-dir={self.profile}", "about:blank"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        track(self.proc)
        port = self._debugging_port()
        targets = requests.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
        page = next(t for t in targets if t.get("type") == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30, suppress_origin=True)
        self._ids = itertools.count(1)
        self.events: list[dict] = []
        self.errors: list[str] = []
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable")
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)

    def _debugging_port(self) -> int:
        marker = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BrowserError(f"chromium exited with {self.proc.returncode}:\n{self.log_path.read_text(errors='replace')[-3000:]}")
            if marker.exists():
                text = marker.read_text().split()
                if text:
                    return int(text[0])
            time.sleep(0.05)
        raise BrowserError("chromium did not open its debugging port within 30 s")

    # -- protocol --------------------------------------------------------------------------------------------------
    def send(self, method: str, **params):
        """One DevTools command; returns its result, raises BrowserError on a protocol error."""
        ident = next(self._ids)
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == ident:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self._event(message)

    def _event(self, message: dict) -> None:
        self.events.append(message)
        if len(self.events) > 2000:
            del self.events[:1000]
        method, params = message["method"], message.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text", "exception")
            self.errors.append(f"uncaught: {text}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            self.errors.append("console.error: " + " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            entry = params["entry"]
            self.errors.append(f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}".strip())

    def pump(self, seconds: float = 0.0) -> None:
        """Reads the events that arrived (waiting up to `seconds` for more)."""
        deadline = time.monotonic() + seconds
        self.ws.settimeout(0.05)
        try:
            while True:
                try:
                    message = json.loads(self.ws.recv())
                except websocket.WebSocketTimeoutException:
                    if time.monotonic() >= deadline:
                        return
                    continue
                if "method" in message:
                    self._event(message)
        finally:
            self.ws.settimeout(30)

    # -- pages -----------------------------------------------------------------------------------------------------
    def goto(self, url: str, timeout: float = 30) -> None:
        """Loads `url` and waits for its load event."""
        self.events.clear()
        self.send("Page.navigate", url=url)
        self._wait_loaded(url, timeout)

    def reload(self, timeout: float = 30) -> None:
        """Reloads the page (a fragment-only goto would not load it again) and waits for its load event."""
        self.events.clear()
        self.send("Page.reload", ignoreCache=False)
        self._wait_loaded("the reloaded page", timeout)

    def _wait_loaded(self, what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not any(e["method"] == "Page.loadEventFired" for e in self.events):
            if time.monotonic() > deadline:
                raise BrowserError(f"{what} did not finish loading in {timeout:.0f}s")
            self.pump(0.1)

    def eval(self, expression: str):
        """The value of a JavaScript expression (promises awaited); raises BrowserError with the page's exception."""
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True, userGesture=True)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise BrowserError(f"{expression[:200]}: {details.get('exception', {}).get('description') or details.get('text')}")
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 20, what: str | None = None):
        """Polls until `expression` is truthy; returns its value. On timeout saves a screenshot and fails naming it."""
        deadline = time.monotonic() + timeout
        last_error = None
        while time.monotonic() < deadline:
            try:
                value = self.eval(expression)
                if value:
                    return value
            except BrowserError as e:
                last_error = e
            self.pump(0.1)
        shot = self.screenshot("timeout-" + str(int(time.time() * 1000)))
        text = self.eval("document.body ? document.body.innerText.slice(0, 1500) : ''")
        raise BrowserError(f"waited {timeout:.0f}s for {what or expression}; last error: {last_error}; screenshot {shot}\n"
                           f"page text:\n{text}\nconsole errors: {self.errors}")

    def count(self, selector: str) -> int:
        return self.eval(f"document.querySelectorAll({json.dumps(selector)}).length")

    def text(self, selector: str) -> str:
        return self.eval(f"(document.querySelector({json.dumps(selector)}) || {{innerText: ''}}).innerText")

    def texts(self, selector: str) -> list[str]:
        return self.eval(f"[...document.querySelectorAll({json.dumps(selector)})].map(e => e.innerText)")

    def center(self, selector: str) -> tuple[float, float]:
        box = self.eval(f"""(() => {{ const e = document.querySelector({json.dumps(selector)});
            if (!e) return null; e.scrollIntoView({{block: 'center'}}); const r = e.getBoundingClientRect();
            return [r.left + r.width / 2, r.top + r.height / 2, r.width, r.height]; }})()""")
        if not box:
            raise BrowserError(f"no element matches {selector}")
        return box[0], box[1]

    def box(self, selector: str) -> dict:
        value = self.eval(f"""(() => {{ const e = document.querySelector({json.dumps(selector)});
            if (!e) return null; e.scrollIntoView({{block: 'center'}}); const r = e.getBoundingClientRect();
            return {{left: r.left, top: r.top, width: r.width, height: r.height}}; }})()""")
        if not value:
            raise BrowserError(f"no element matches {selector}")
        return value

    def mouse(self, kind: str, x: float, y: float, buttons: int = 0) -> None:
        self.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left" if kind != "mouseMoved" or buttons else "none",
                  buttons=buttons, clickCount=1 if kind != "mouseMoved" else 0)

    def click(self, selector: str) -> None:
        """A real mouse click in the middle of the first element matching `selector`."""
        x, y = self.center(selector)
        self.mouse("mouseMoved", x, y)
        self.mouse("mousePressed", x, y, buttons=1)
        self.mouse("mouseReleased", x, y)

    def drag(self, x1: float, y1: float, x2: float, y2: float, steps: int = 8) -> None:
        self.mouse("mouseMoved", x1, y1)
        self.mouse("mousePressed", x1, y1, buttons=1)
        for i in range(1, steps + 1):
            self.mouse("mouseMoved", x1 + (x2 - x1) * i / steps, y1 + (y2 - y1) * i / steps, buttons=1)
        self.mouse("mouseReleased", x2, y2)

    def type(self, selector: str, text: str, clear: bool = True) -> None:
        """Focuses the field and types `text` as keyboard input (trusted input events)."""
        self.eval(f"(() => {{ const e = document.querySelector({json.dumps(selector)}); e.focus();"
                  f" {'e.select && e.select();' if clear else ''} }})()")
        if clear:
            self.key("Backspace")
        self.send("Input.insertText", text=text)

    KEYS = {"Enter": (13, "\r"), "Escape": (27, ""), "Tab": (9, ""), "Backspace": (8, ""),
            "ArrowDown": (40, ""), "ArrowUp": (38, "")}

    def key(self, key: str) -> None:
        code, text = self.KEYS[key]
        common = dict(key=key, code=key, windowsVirtualKeyCode=code, nativeVirtualKeyCode=code)
        self.send("Input.dispatchKeyEvent", type="keyDown" if text else "rawKeyDown", text=text, **common)
        self.send("Input.dispatchKeyEvent", type="keyUp", **common)

    def screenshot(self, name: str) -> Path:
        data = self.send("Page.captureScreenshot", format="png")["data"]
        path = self.artifacts / f"{name}.png"
        path.write_bytes(base64.b64decode(data))
        return path

    def console_errors(self, ignore: tuple[str, ...] = ()) -> list[str]:
        """The errors logged since the last reset, without those containing one of `ignore`."""
        self.pump(0.2)
        return [e for e in self.errors if not any(part in e for part in ignore)]

    def reset(self) -> None:
        """A clean slate for the next test: blank page, no recorded errors. (Each server has its own port, so its own
        origin and local storage: a stored token or theme never crosses servers.)"""
        self.send("Page.navigate", url="about:blank")
        self.pump(0.1)
        self.errors.clear()
        self.events.clear()

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except Exception:
            pass
        try:
            self.ws.close()
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        shutil.rmtree(self.profile, ignore_errors=True)
