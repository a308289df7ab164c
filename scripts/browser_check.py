"""Run the demo and look at it in a real browser, as a person would.

Starts ``scripts/develop`` in a fresh config folder on free ports, drives Debian's headless
Chromium over the DevTools protocol (no browser download, no extra package) through Home
Assistant's login page to the i-PRO NVR dashboard, and checks that camera cards show live
pictures from ``/api/camera_proxy`` and that sensors show values. Saves screenshots, then
stops every process it started. ``scripts/browser-check --help`` for the options.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
from collections.abc import Awaitable, Callable
import contextlib
import io
import json
import os
from pathlib import Path
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any
import urllib.parse

import aiohttp
from demo_setup import Api, Demo, DemoError, dashboard_entities, integration_problems, login
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = "/ipro-nvr/cameras"
USER, PASSWORD = "demo", "demo1234"
# Every wait is an upper bound that a quiet machine meets in a fraction of it; a loaded one
# (other jobs next to CI) was seen to need more than the plain figures, so all are scaled.
PATIENCE = 3
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--mute-audio",
    "--remote-debugging-port=0",
    "--remote-allow-origins=*",
)

# Walks every shadow root: Home Assistant's frontend is web components all the way down.
DEEP_QUERY_JS = """
const deepAll = (selector, root = document) => {
  const found = [];
  const walk = (node) => {
    found.push(...node.querySelectorAll(selector));
    for (const el of node.querySelectorAll("*")) if (el.shadowRoot) walk(el.shadowRoot);
  };
  walk(root);
  return found;
};
const deepText = (root = document.body) => {
  const parts = [];
  const walk = (node) => {
    if (node.nodeType === Node.TEXT_NODE) { parts.push(node.textContent); return; }
    const element = node.nodeType === Node.ELEMENT_NODE;
    if (!element && node.nodeType !== Node.DOCUMENT_FRAGMENT_NODE) return;
    if (element && (node.tagName === "STYLE" || node.tagName === "SCRIPT")) return;
    // What is rendered: a shadow root replaces the children (they come back through slots).
    if (node.shadowRoot) { walk(node.shadowRoot); return; }
    const slotted = node.tagName === "SLOT" ? node.assignedNodes({flatten: true}) : [];
    for (const child of slotted.length ? slotted : node.childNodes) walk(child);
  };
  walk(root);
  return parts.join(" ").replace(/\\s+/g, " ");
};
"""


class CheckError(Exception):
    """What the browser check found wrong."""


def log(message: str) -> None:
    """Report progress; a run takes a minute or two."""
    print(f"[browser-check] {message}", file=sys.stderr, flush=True)  # noqa: T201


def free_port() -> int:
    """A TCP port on loopback nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def until[T](probe: Callable[[], Awaitable[T | None]], seconds: float, what: str) -> T:
    """Ask ``probe`` every half second until it answers (not None); fail after ``seconds``."""
    try:
        async with asyncio.timeout(seconds):
            # Polling on purpose: the page and the servers are other processes.
            while (value := await probe()) is None:  # noqa: ASYNC110
                await asyncio.sleep(0.5)
            return value
    except TimeoutError:
        raise CheckError(f"{what} after {seconds:.0f} s") from None


class Process:
    """A child process in its own process group, so that stopping it stops its children."""

    def __init__(self, name: str, args: list[str], log_path: Path, env: dict[str, str]) -> None:
        """Start it with its output in ``log_path``."""
        self.name = name
        self.log_path = log_path
        with log_path.open("wb") as out:
            self.popen = subprocess.Popen(  # noqa: S603 - fixed argument lists
                args,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=ROOT,
                start_new_session=True,
            )

    def output(self) -> str:
        """What it printed so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, seconds: float) -> None:
        """SIGTERM the leader, wait, then SIGKILL whatever is left of the group."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(seconds)
            except subprocess.TimeoutExpired:
                log(f"{self.name} did not stop in {seconds:.0f} s; killing it")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait()


class DevTools:
    """A minimal Chrome DevTools protocol client for one page, over aiohttp's websocket."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Start reading answers and events."""
        self.ws = ws
        self.next_id = 0
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.console_errors: list[str] = []
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(message.data)
            if (future := self.pending.pop(data.get("id", -1), None)) is not None:
                if "error" in data:
                    future.set_exception(CheckError(f"DevTools: {data['error']}"))
                else:
                    future.set_result(data.get("result", {}))
            elif data.get("method") == "Runtime.exceptionThrown":
                details = data["params"]["exceptionDetails"]
                exception = details.get("exception", {})
                # A rejected promise's object describes itself as "Object": show its fields.
                preview = exception.get("preview", {}).get("properties")
                self.console_errors.append(
                    json.dumps(preview)
                    if preview
                    else exception.get("description") or details.get("text", "")
                )
            elif (
                data.get("method") == "Runtime.consoleAPICalled"
                and data["params"]["type"] == "error"
            ):
                self.console_errors.append(
                    " ".join(
                        str(arg.get("value") or json.dumps(arg.get("preview")) or "")
                        for arg in data["params"]["args"]
                    )
                )

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one command and return its result."""
        self.next_id += 1
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = future
        await self.ws.send_json({"id": self.next_id, "method": method, "params": params})
        async with asyncio.timeout(30):
            return await future

    async def js(self, expression: str) -> Any:
        """Evaluate JavaScript in the page (with the deep query helpers); return its value."""
        result = await self.call(
            "Runtime.evaluate",
            expression=f"(async () => {{ {DEEP_QUERY_JS} {expression} }})()",
            awaitPromise=True,
            returnByValue=True,
        )
        if "exceptionDetails" in result:
            raise CheckError(f"JavaScript failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def screenshot(self, path: Path, height: int | None = None) -> None:
        """Save the page (its top ``height`` pixels) as a small PNG of 256 colours."""
        clip = (
            {}
            if height is None
            else {"clip": {"x": 0, "y": 0, "width": 1280, "height": height, "scale": 1}}
        )
        result = await self.call("Page.captureScreenshot", format="png", **clip)
        picture = Image.open(io.BytesIO(base64.b64decode(result["data"]))).convert("RGB")
        data = io.BytesIO()
        picture.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(
            data, format="PNG", optimize=True
        )
        await asyncio.to_thread(path.write_bytes, data.getvalue())
        log(f"screenshot {path} ({len(data.getvalue()) // 1024} KiB)")

    async def close(self) -> None:
        """Stop reading and close the socket."""
        self.reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.reader
        await self.ws.close()


class Chromium:
    """Debian's headless Chromium with a throw-away profile, driven over DevTools."""

    def __init__(self, executable: str, work: Path) -> None:
        """Start it on about:blank; the DevTools port is read from the profile folder."""
        self.profile = work / "chromium-profile"
        self.profile.mkdir()
        self.process = Process(
            "Chromium",
            [executable, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            work / "chromium.log",
            dict(os.environ),
        )

    async def page(self, session: aiohttp.ClientSession) -> DevTools:
        """Connect to the first page and switch on what the check listens to."""

        async def port() -> int | None:
            if self.process.popen.poll() is not None:
                raise CheckError(f"Chromium exited: {self.process.output()[-2000:]}")
            path = self.profile / "DevToolsActivePort"
            text = path.read_text(encoding="utf-8") if path.exists() else ""
            return int(text.split()[0]) if text.strip() else None

        devtools = await until(port, 30 * PATIENCE, "Chromium did not open its DevTools port")
        async with session.get(f"http://127.0.0.1:{devtools}/json/list") as response:
            targets = await response.json()
        url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
        page = DevTools(await session.ws_connect(url, max_msg_size=0))
        await page.call("Page.enable")
        await page.call("Runtime.enable")
        # The demo's Home Assistant and NVR are in Japan; show their wall clock.
        await page.call("Emulation.setTimezoneOverride", timezoneId="Asia/Tokyo")
        await page.call(
            "Emulation.setDeviceMetricsOverride",
            width=1280,
            height=1500,
            deviceScaleFactor=1,
            mobile=False,
        )
        return page


async def type_into(page: DevTools, selector: str, text: str) -> None:
    """Focus the first element matching ``selector`` (in any shadow root) and type."""
    found = await page.js(
        f"const el = deepAll({json.dumps(selector)})[0]; if (!el) return false;"
        " el.focus(); return true;"
    )
    if not found:
        raise CheckError(f"no {selector} on the page")
    await page.call("Input.insertText", text=text)


async def click(page: DevTools, element_js: str, what: str) -> None:
    """Click, with the mouse, the middle of the element ``element_js`` evaluates to."""
    box = await page.js(
        f"const el = {element_js}; if (!el) return null;"
        " el.scrollIntoView({block: 'center'}); const r = el.getBoundingClientRect();"
        " return {x: r.x + r.width / 2, y: r.y + r.height / 2};"
    )
    if box is None:
        raise CheckError(f"no {what} on the page")
    for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
        await page.call(
            "Input.dispatchMouseEvent",
            type=kind,
            x=box["x"],
            y=box["y"],
            button="left" if kind != "mouseMoved" else "none",
            clickCount=1 if kind != "mouseMoved" else 0,
        )


async def log_in(page: DevTools, url: str) -> None:
    """Open the dashboard, get sent to the login page, and log in with the form."""
    await page.call("Page.navigate", url=f"{url}{DASHBOARD}")

    async def login_form() -> bool | None:
        return await page.js("return deepAll('input[name=password]').length > 0") or None

    await until(login_form, 60 * PATIENCE, "no login form")
    await type_into(page, "input[name=username]", USER)
    await type_into(page, "input[name=password]", PASSWORD)
    await page.js(
        "const button = deepAll('ha-button').find((b) => b.textContent.trim() === 'Log in');"
        " button.click(); return true;"
    )

    async def on_dashboard() -> bool | None:
        return (
            await page.js(
                f"return location.pathname === {json.dumps(DASHBOARD)}"
                " && deepAll('hui-picture-entity-card').length > 0"
            )
            or None
        )

    await until(on_dashboard, 60 * PATIENCE, "the dashboard did not open after logging in")
    log("logged in through the login form; the dashboard is open")


async def check_pictures(page: DevTools, expected: int) -> list[dict[str, Any]]:
    """Wait until ``expected`` camera cards show a loaded picture from the camera proxy."""

    async def pictures() -> list[dict[str, Any]] | None:
        images: list[dict[str, Any]] = await page.js(
            "return deepAll('img').filter((img) => img.src.includes('/api/camera_proxy/'))"
            ".map((img) => ({src: img.src, complete: img.complete,"
            " width: img.naturalWidth, height: img.naturalHeight}));"
        )
        loaded = [image for image in images if image["complete"] and image["width"] > 0]
        return loaded if len(loaded) >= expected else None

    loaded = await until(pictures, 60 * PATIENCE, f"fewer than {expected} camera pictures loaded")
    for image in loaded:
        entity = re.sub(r"\?.*", "", image["src"].rsplit("/", 1)[-1])
        log(f"camera picture {entity}: {image['width']}x{image['height']}")
    return loaded


async def check_sensors(page: DevTools, api: Api) -> None:
    """Check that the sensors' values, as Home Assistant formats them, are on the page."""
    states = {state["entity_id"]: state for state in await api.get("/api/states")}
    free = int(float(states["sensor.wj_nx400_main_1_free_space"]["state"]))
    used = float(states["sensor.wj_nx400_main_2_used"]["state"])
    expected = {
        "MAIN-1 free space": rf"\b(?:{free:,}|{free})(?:\.\d+)?\s*GB",
        "MAIN-2 used": rf"\b{used:.1f}\s*%",
        "camera connection": r"\bConnected\b",
        "camera 3 connection": r"\bDisconnected\b",
        "last event": r"Last event",
    }

    def missing(text: str) -> list[str]:
        return [name for name, pattern in expected.items() if not re.search(pattern, text)]

    async def shown() -> bool | None:
        return not missing(await page.js("return deepText();")) or None

    try:
        await until(shown, 30 * PATIENCE, "sensor values missing")
    except CheckError as err:
        text = await page.js("return deepText();")
        raise CheckError(f"the dashboard does not show {missing(text)}: {text[:1500]}") from err
    last_event = states["sensor.wj_nx400_last_event"]["state"]
    log(f"sensors shown: MAIN-1 free {free} GB, MAIN-2 used {used:.1f} %, last event {last_event}")


async def check_preset_button(page: DevTools, api: Api) -> None:
    """Press a preset button card; the NVR moves the camera and the preset select follows."""
    await click(
        page,
        "deepAll('hui-button-card').find((card) => card.shadowRoot"
        " && card.shadowRoot.textContent.includes('Entrance'))"
        "?.shadowRoot.querySelector('ha-card')",
        "Entrance button card",
    )

    async def selected() -> bool | None:
        state = await api.get("/api/states/select.wj_nx400_camera_1_preset")
        return state["state"] == "Entrance" or None

    await until(selected, 20 * PATIENCE, "pressing Entrance did not select the Entrance preset")
    log("pressed the Entrance preset button: camera 1's preset select shows Entrance")


async def open_media_item(page: DevTools, text: str | None, what: str) -> None:
    """Click the media browser item whose title contains ``text`` (None: the first one)."""
    match = "true" if text is None else f"item.textContent.includes({json.dumps(text)})"
    element = f"deepAll('ha-media-player-browse div.child, div.child').find((item) => {match})"

    async def shown() -> bool | None:
        return await page.js(f"return Boolean({element});") or None

    await until(shown, 30 * PATIENCE, f"the media browser does not show {what}")
    await click(page, element, what)


async def check_recording(page: DevTools, api: Api, screenshots: Path) -> None:
    """Browse the NVR's recordings to camera 1's newest hour and see it play in the page."""
    entry_id = (await api.entries())[0]["entry_id"]
    folders = [("app", "media-source://ipro_nvr"), ("video", f"media-source://ipro_nvr/{entry_id}")]
    path = "/media-browser/browser/" + "/".join(
        urllib.parse.quote(f"{kind},{content}", safe="") for kind, content in folders
    )
    # A screen-sized window, so the player dialog fits in the screenshot.
    await page.call(
        "Emulation.setDeviceMetricsOverride",
        width=1280,
        height=900,
        deviceScaleFactor=1,
        mobile=False,
    )
    await navigate_in_app(page, path, "ha-media-player-browse")
    await open_media_item(page, "camera 1", "camera 1's recordings")
    await open_media_item(page, None, "the newest day")

    async def hours() -> bool | None:
        return await page.js("return deepText().includes(':00 - ');") or None

    await until(hours, 30 * PATIENCE, "no hours of recording listed")
    await open_media_item(page, None, "the newest hour")

    async def playing() -> dict[str, Any] | None:
        videos: list[dict[str, Any]] = await page.js(
            "return deepAll('video').map((v) => ({width: v.videoWidth, height: v.videoHeight,"
            " time: v.currentTime, error: v.error && v.error.message}));"
        )
        if videos and videos[0]["error"]:
            raise CheckError(f"the recording does not play: {videos[0]['error']}")
        return next((v for v in videos if v["width"] > 0 and v["time"] > 0.5), None)

    started = time.monotonic()
    video = await until(playing, 90 * PATIENCE, "the recording did not start playing")
    log(
        f"camera 1's newest hour plays in the browser: {video['width']}x{video['height']},"
        f" first picture after {time.monotonic() - started:.0f} s"
    )
    await page.screenshot(screenshots / "screenshot-media.png")


async def navigate_in_app(page: DevTools, path: str, ready_selector: str) -> None:
    """Move to another page of the frontend without reloading it, as a click on a link does."""
    await page.js(
        f"history.pushState(null, '', {json.dumps(path)});"
        " window.dispatchEvent(new CustomEvent('location-changed')); return true;"
    )

    async def ready() -> bool | None:
        return await page.js(f"return deepAll({json.dumps(ready_selector)}).length > 0") or None

    await until(ready, 30 * PATIENCE, f"{path} did not show {ready_selector}")
    # Let pictures and fonts settle before a screenshot.
    await asyncio.sleep(2)


async def check(args: argparse.Namespace, work: Path) -> None:
    """Start the demo, then log in, look at the dashboard and take the screenshots."""
    ha_port, sim_port = free_port(), free_port()
    config = work / "config"
    env = {
        **os.environ,
        "IPRO_NVR_CONFIG": str(config),
        "IPRO_NVR_HA_PORT": str(ha_port),
        "IPRO_NVR_SIM_PORT": str(sim_port),
    }
    url = f"http://127.0.0.1:{ha_port}"
    demo = Demo(
        url=url,
        user=USER,
        password=PASSWORD,
        nvr_host="127.0.0.1",
        nvr_port=sim_port,
        nvr_user="ADMIN",
        nvr_password="12345",  # noqa: S106 - the simulator's public demo password
        ptz_camera=1,
        presets={},
        config_dir=config,
    )
    log(f"starting the demo (Home Assistant on port {ha_port}, NVR simulator on {sim_port})")
    started = time.monotonic()
    develop = Process("scripts/develop", ["bash", "scripts/develop"], work / "develop.log", env)
    chromium: Chromium | None = None
    try:

        async def demo_ready() -> bool | None:
            if develop.popen.poll() is not None:
                raise CheckError(f"scripts/develop exited:\n{develop.output()[-3000:]}")
            return "demo is ready" in develop.output() or None

        await until(demo_ready, 240 * PATIENCE, "the demo did not start")
        log(f"the demo is ready after {time.monotonic() - started:.0f} s")
        chromium = Chromium(args.chromium, work)
        async with aiohttp.ClientSession() as session:
            api = Api(session, url, await login(session, demo))
            missing = dashboard_entities(config) - await api.entity_ids()
            if missing:
                raise CheckError(f"the dashboard names entities that do not exist: {missing}")
            page = await chromium.page(session)
            try:
                await log_in(page, url)
                await check_pictures(page, args.pictures)
                await check_sensors(page, api)
                await check_preset_button(page, api)
                args.screenshots.mkdir(parents=True, exist_ok=True)
                await asyncio.sleep(2)
                await page.screenshot(args.screenshots / "screenshot-dashboard.png", 1420)
                await navigate_in_app(
                    page, "/config/integrations/integration/ipro_nvr", "ha-config-entry-row"
                )
                await page.screenshot(args.screenshots / "screenshot-integration.png", 760)
                await check_recording(page, api, args.screenshots)
                if page.console_errors:
                    log(f"JavaScript errors on the page: {page.console_errors}")
            finally:
                await page.close()
    finally:
        if chromium is not None:
            chromium.process.stop(10)
        log("stopping the demo")
        develop.stop(90)
    problems = integration_problems(config)
    for line in problems:
        log(f"integration log: {line}")
    if errors := [line for line in problems if " WARNING " not in line]:
        raise CheckError("the integration logged errors:\n" + "\n".join(errors))
    log(f"passed in {time.monotonic() - started:.0f} s")


def home_assistant_errors(config_dir: Path, limit: int = 12) -> list[str]:
    """Home Assistant's distinct error lines: a page that never loads often has one behind it."""
    path = config_dir / "home-assistant.log"
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    errors = dict.fromkeys(line[24:300] for line in lines if " ERROR (" in line)
    return list(errors)[:limit]


def main(argv: list[str] | None = None) -> int:
    """Run the check; exit code 0 when it passed or was skipped for want of Chromium."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--screenshots",
        type=Path,
        default=ROOT / "docs",
        help="folder for the PNG screenshots (default: docs/, which the README shows)",
    )
    parser.add_argument(
        "--chromium",
        default=os.environ.get("IPRO_NVR_CHROMIUM") or shutil.which("chromium") or "",
        help="the Chromium to drive (default: chromium on PATH, or $IPRO_NVR_CHROMIUM)",
    )
    parser.add_argument(
        "--pictures", type=int, default=3, help="camera pictures that must load (default 3)"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the work folder (config, logs) for a look"
    )
    args = parser.parse_args(argv)
    if not args.chromium:
        log("skipped: no Chromium found (apt-get install chromium, or set IPRO_NVR_CHROMIUM)")
        return 0
    work = Path(tempfile.mkdtemp(prefix="ipro-nvr-browser-check-"))
    try:
        asyncio.run(check(args, work))
    except (CheckError, DemoError) as err:
        log(f"FAILED: {err}")
        for line in home_assistant_errors(work / "config"):
            log(f"Home Assistant logged: {line}")
        log(f"logs kept in {work}")
        return 1
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    if args.keep:
        log(f"work folder kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
