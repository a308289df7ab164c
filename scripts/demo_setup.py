"""Set up the demo Home Assistant through its own HTTP APIs, the way the UI does it.

Onboarding (``/api/onboarding/*``) creates the demo user, the config flow
(``/api/config/config_entries/flow``) adds the simulated NVR, and the options flow marks
the PTZ camera and names its presets. Nothing is written to ``.storage`` by hand, so the
demo exercises the same code a person clicking through the UI does. Every step that is
already done is skipped: a second run reuses the configuration.

``scripts/develop`` runs this once Home Assistant listens; ``scripts/browser_check.py``
imports ``login`` and ``dashboard_entities`` from it.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
import json
from pathlib import Path
import re
import sys
from typing import Any, cast

import aiohttp

DOMAIN = "ipro_nvr"
# Entity ids of the platforms the dashboard shows.
ENTITY_ID = re.compile(r"\b(?:binary_sensor|button|camera|event|select|sensor)\.[a-z0-9_]+\b")


class DemoError(Exception):
    """A step of the set-up failed; the message says which and why."""


@dataclass(frozen=True, kw_only=True)
class Demo:
    """Where Home Assistant and the simulated NVR are, and who logs in to each."""

    url: str
    user: str
    password: str
    nvr_host: str
    nvr_port: int
    nvr_user: str
    nvr_password: str
    ptz_camera: int
    presets: Mapping[int, str]
    config_dir: Path

    @property
    def client_id(self) -> str:
        """The OAuth client id Home Assistant's own frontend would use."""
        return f"{self.url}/"

    @property
    def redirect_uri(self) -> str:
        """A redirect URI on the client id's host, as IndieAuth requires."""
        return f"{self.url}/?auth_callback=1"


def log(message: str) -> None:
    """Tell the person running the demo what is happening."""
    print(f"[demo] {message}", file=sys.stderr, flush=True)  # noqa: T201


async def _json(response: aiohttp.ClientResponse, what: str) -> Any:
    """Return the JSON body, or fail with the step's name and Home Assistant's answer."""
    if response.status >= 400:
        raise DemoError(f"{what}: HTTP {response.status}: {(await response.text())[:500]}")
    return await response.json()


async def until[T](probe: Callable[[], Awaitable[T | None]], seconds: float, what: str) -> T:
    """Ask ``probe`` twice a second until it answers (not None); fail after ``seconds``."""
    try:
        async with asyncio.timeout(seconds):
            # Polling on purpose: the other side is another process, nothing to wait on.
            while (value := await probe()) is None:  # noqa: ASYNC110
                await asyncio.sleep(0.5)
            return value
    except TimeoutError:
        raise DemoError(f"{what} after {seconds:.0f} s") from None


async def wait_for_http(session: aiohttp.ClientSession, url: str, seconds: float) -> None:
    """Wait until something answers HTTP at ``url`` (Home Assistant or the simulator)."""

    async def probe() -> bool | None:
        try:
            async with session.get(url, timeout=aiohttp.ClientTimeout(total=5)) as response:
                await response.read()
        except aiohttp.ClientError, TimeoutError:
            return None
        return True

    await until(probe, seconds, f"nothing answers at {url}")


async def _token_from_code(session: aiohttp.ClientSession, demo: Demo, code: str) -> str:
    """Exchange an authorization code for an access token."""
    form = {"grant_type": "authorization_code", "code": code, "client_id": demo.client_id}
    async with session.post(f"{demo.url}/auth/token", data=form) as response:
        body = await _json(response, "token")
    return str(body["access_token"])


async def login(session: aiohttp.ClientSession, demo: Demo) -> str:
    """Log in as the demo user through the login flow; return an access token."""
    start = {
        "client_id": demo.client_id,
        "handler": ["homeassistant", None],
        "redirect_uri": demo.redirect_uri,
    }
    async with session.post(f"{demo.url}/auth/login_flow", json=start) as response:
        flow = await _json(response, "login flow")
    answer = {"username": demo.user, "password": demo.password, "client_id": demo.client_id}
    async with session.post(
        f"{demo.url}/auth/login_flow/{flow['flow_id']}", json=answer
    ) as response:
        result = await _json(response, "login")
    if result.get("type") != "create_entry":
        raise DemoError(
            f"cannot log in as {demo.user!r}: {result.get('errors')}; "
            "delete the config folder's .storage to start the demo afresh"
        )
    return await _token_from_code(session, demo, str(result["result"]))


async def onboard(session: aiohttp.ClientSession, demo: Demo) -> str:
    """Finish whatever onboarding steps are left; return an access token."""
    async with session.get(f"{demo.url}/api/onboarding") as response:
        # Once onboarding is finished Home Assistant no longer serves its views.
        onboarded = response.status == 404
        steps = [] if onboarded else await _json(response, "onboarding status")
    done = {step["step"] for step in steps if step["done"]}
    if onboarded:
        return await login(session, demo)
    if "user" in done:
        token = await login(session, demo)
    else:
        log(f"onboarding: creating the user {demo.user!r}")
        user = {
            "client_id": demo.client_id,
            "name": "Demo",
            "username": demo.user,
            "password": demo.password,
            "language": "en",
        }
        async with session.post(f"{demo.url}/api/onboarding/users", json=user) as response:
            code = (await _json(response, "onboarding user"))["auth_code"]
        token = await _token_from_code(session, demo, code)
    headers = {"Authorization": f"Bearer {token}"}
    bodies: dict[str, dict[str, str]] = {
        "core_config": {},
        "analytics": {},
        "integration": {"client_id": demo.client_id, "redirect_uri": demo.redirect_uri},
    }
    for step, body in bodies.items():
        if step in done:
            continue
        log(f"onboarding: {step}")
        async with session.post(
            f"{demo.url}/api/onboarding/{step}", json=body, headers=headers
        ) as response:
            await _json(response, f"onboarding {step}")
    return token


class Api:
    """Home Assistant's REST API with the demo user's token."""

    def __init__(self, session: aiohttp.ClientSession, url: str, token: str) -> None:
        """Remember where and as whom to ask."""
        self.session = session
        self.url = url
        self.headers = {"Authorization": f"Bearer {token}"}

    async def get(self, path: str) -> Any:
        """GET a JSON document."""
        async with self.session.get(f"{self.url}{path}", headers=self.headers) as response:
            return await _json(response, f"GET {path}")

    async def post(self, path: str, body: Mapping[str, Any]) -> Any:
        """POST a JSON document, return the JSON answer."""
        async with self.session.post(
            f"{self.url}{path}", json=body, headers=self.headers
        ) as response:
            return await _json(response, f"POST {path}")

    async def delete(self, path: str) -> None:
        """DELETE a resource (an unfinished flow)."""
        async with self.session.delete(f"{self.url}{path}", headers=self.headers) as response:
            await _json(response, f"DELETE {path}")

    async def wait_running(self, seconds: float) -> None:
        """Wait until Home Assistant has finished starting."""

        async def probe() -> bool | None:
            return (await self.get("/api/config"))["state"] == "RUNNING" or None

        await until(probe, seconds, "Home Assistant has not finished starting")

    async def entries(self) -> list[dict[str, Any]]:
        """The config entries of this integration."""
        return cast(
            "list[dict[str, Any]]",
            await self.get(f"/api/config/config_entries/entry?domain={DOMAIN}"),
        )

    async def entity_ids(self) -> set[str]:
        """Every entity id Home Assistant has a state for."""
        return {state["entity_id"] for state in await self.get("/api/states")}


async def _ws_call(ws: aiohttp.ClientWebSocketResponse, message: dict[str, Any]) -> Any:
    """Send one websocket command and return its result."""
    await ws.send_json(message)
    while (answer := await ws.receive_json())["id"] != message["id"]:
        pass
    if not answer["success"]:
        raise DemoError(f"{message['type']}: {answer['error']}")
    return answer["result"]


async def confirm_http(session: aiohttp.ClientSession, demo: Demo, token: str) -> None:
    """Confirm the first start's HTTP settings, as Settings > System > Network asks one to.

    Home Assistant imports the ``http:`` block of packages/demo_http.yaml once as a trial
    and goes back to its defaults (every interface, port 8123) five minutes later unless
    someone confirms it works. The block and the notice about it are then of no more use.
    """
    async with session.ws_connect(f"{demo.url.replace('http', 'ws', 1)}/api/websocket") as ws:
        await ws.receive_json()
        await ws.send_json({"type": "auth", "access_token": token})
        if (await ws.receive_json())["type"] != "auth_ok":
            raise DemoError("the websocket API refused the demo user's token")
        config = await _ws_call(ws, {"id": 1, "type": "http/config"})
        pending = config["pending"]
        if config["active_config_type"] == "pending" and pending and not pending["error"]:
            await _ws_call(ws, {"id": 2, "type": "http/config/promote"})
            where = f"{pending['server_host']} port {pending['server_port']}"
            log(f"confirmed the HTTP settings: {where}")
            (demo.config_dir / "packages" / "demo_http.yaml").unlink(missing_ok=True)
            await _ws_call(
                ws,
                {
                    "id": 3,
                    "type": "repairs/ignore_issue",
                    "domain": "http",
                    "issue_id": "deprecated_yaml",
                    "ignore": True,
                },
            )
            config = await _ws_call(ws, {"id": 4, "type": "http/config"})
    if "127.0.0.1" not in (config["stable"].get("server_host") or []):
        log(
            "warning: Home Assistant listens on every interface (its HTTP settings were not "
            "confirmed in time); delete the config folder's .storage/http to start over"
        )


async def remove_offline_casualties(api: Api) -> None:
    """Remove what onboarding added but cannot work here (e.g. Google Translate TTS).

    Finishing onboarding sets up a few integrations that need Python packages the demo
    does not install or the internet; left alone they log errors at every start.
    """
    for entry in await api.get("/api/config/config_entries/entry"):
        if entry["source"] == "onboarding" and entry["state"] in {"setup_error", "setup_retry"}:
            log(f"removing {entry['title']!r}, set up by onboarding but unusable offline")
            await api.delete(f"/api/config/config_entries/entry/{entry['entry_id']}")


def _fill(schema: Iterable[Mapping[str, Any]], answers: Mapping[str, Any]) -> dict[str, Any]:
    """Answer a form: our values where we have one, else each field's default."""
    filled: dict[str, Any] = {}
    for field in schema:
        name = field["name"]
        if name in answers:
            filled[name] = answers[name]
        elif "default" in field:
            filled[name] = field["default"]
    return filled


async def run_flow(
    api: Api, path: str, start: Mapping[str, Any], answers: Mapping[str, Any]
) -> dict[str, Any]:
    """Drive a data entry flow to its end, filling forms from ``answers``.

    Menus take the first option ``answers["menu"]`` names, else their first one.
    """
    result: dict[str, Any] = await api.post(path, start)
    for _ in range(20):
        kind = result.get("type")
        if kind in {"create_entry", "abort"}:
            return result
        flow_path = f"{path}/{result['flow_id']}"
        if kind == "menu":
            options = list(result["menu_options"])
            wanted = [option for option in answers.get("menu", ()) if option in options]
            result = await api.post(flow_path, {"next_step_id": (wanted or options)[0]})
            continue
        if kind != "form":
            raise DemoError(f"{path}: unexpected flow step {json.dumps(result)[:300]}")
        if result.get("errors"):
            raise DemoError(f"{path}: step {result['step_id']}: {result['errors']}")
        result = await api.post(flow_path, _fill(result.get("data_schema") or [], answers))
    raise DemoError(f"{path}: the flow did not end after 20 steps")


async def wait_loaded(api: Api, seconds: float) -> dict[str, Any]:
    """Wait until our entry has been set up; return it."""

    async def probe() -> dict[str, Any] | None:
        entries = await api.entries()
        return entries[0] if entries and entries[0]["state"] == "loaded" else None

    return await until(probe, seconds, "the NVR entry is not loaded (see the log)")


async def configure_nvr(api: Api, demo: Demo) -> dict[str, Any]:
    """Add the simulated NVR, or point an existing entry at it again; return the entry."""
    address = {
        "host": demo.nvr_host,
        "port": demo.nvr_port,
        "ssl": False,
        "verify_ssl": False,
        "username": demo.nvr_user,
        "password": demo.nvr_password,
    }
    flows = "/api/config/config_entries/flow"
    entries = await api.entries()
    if not entries:
        log(f"config flow: adding the NVR at {demo.nvr_host}:{demo.nvr_port}")
        result = await run_flow(api, flows, {"handler": DOMAIN}, address)
        if result["type"] != "create_entry":
            raise DemoError(f"config flow ended with {result.get('reason')}")
        return await wait_loaded(api, 90)

    async def settled() -> dict[str, Any] | None:
        entry: dict[str, Any] = (await api.entries())[0]
        return None if entry["state"] == "setup_in_progress" else entry

    entry = await until(settled, 90, "the NVR entry is still being set up")
    if entry["state"] == "loaded":
        log(f"reusing the NVR entry {entry['title']!r}")
        return entry
    # Set up failed, e.g. the simulator listens on another port than last time.
    log(f"the NVR entry is {entry['state']}: reconfiguring it to {demo.nvr_host}:{demo.nvr_port}")
    result = await run_flow(api, flows, {"handler": DOMAIN, "entry_id": entry["entry_id"]}, address)
    if result.get("reason") != "reconfigure_successful":
        raise DemoError(f"reconfigure flow ended with {result.get('reason')}")
    return await wait_loaded(api, 90)


async def configure_ptz(api: Api, demo: Demo, entry_id: str) -> None:
    """Mark the PTZ camera and name its presets through the options flow, once."""
    path = "/api/config/config_entries/options/flow"
    result: dict[str, Any] = await api.post(path, {"handler": entry_id})
    flow_path = f"{path}/{result['flow_id']}"
    fields = {field["name"]: field for field in result.get("data_schema") or []}
    if "configure_ptz" not in fields:
        await api.delete(flow_path)
        log("the options flow has no PTZ step yet: presets are not named")
        return
    result = await api.post(flow_path, _fill(fields.values(), {"configure_ptz": True}))
    chosen = next(
        (
            field.get("default")
            for field in result.get("data_schema") or []
            if field["name"] == "ptz_cameras"
        ),
        None,
    )
    if result.get("step_id") != "ptz_cameras" or chosen:
        # Already marked (a second run): keep what the user may have changed since.
        await api.delete(flow_path)
        return
    log(f"options flow: camera {demo.ptz_camera} is PTZ, presets {dict(demo.presets)}")
    result = await api.post(flow_path, {"ptz_cameras": [str(demo.ptz_camera)]})
    text = "\n".join(f"{number} = {name}" for number, name in demo.presets.items())
    while result.get("type") == "form" and result.get("step_id") == "ptz_presets":
        if result.get("errors"):
            raise DemoError(f"options flow: presets refused: {result['errors']}")
        result = await api.post(flow_path, {"presets": text})
    if result.get("type") != "create_entry":
        raise DemoError(f"options flow ended with {json.dumps(result)[:300]}")
    await wait_loaded(api, 90)


def dashboard_entities(config_dir: Path) -> set[str]:
    """Every entity id the YAML dashboards in ``config_dir/dashboards`` mention."""
    found: set[str] = set()
    for path in sorted((config_dir / "dashboards").glob("*.yaml")):
        for line in path.read_text(encoding="utf-8").splitlines():
            text = line.partition("#")[0]
            # `perform_action: button.press` names an action, not an entity.
            if "action:" not in text:
                found.update(ENTITY_ID.findall(text))
    return found


async def wait_entities(api: Api, wanted: set[str], seconds: float) -> set[str]:
    """Wait until the dashboard's entities exist; return those still missing."""

    async def probe() -> bool | None:
        return wanted <= await api.entity_ids() or None

    try:
        await until(probe, seconds, "entities missing")
    except DemoError:
        return wanted - await api.entity_ids()
    return set()


def integration_problems(config_dir: Path) -> list[str]:
    """Warnings and errors this integration wrote to the current Home Assistant log."""
    path = config_dir / "home-assistant.log"
    if not path.exists():
        return []
    return [
        line
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines()
        if DOMAIN in line
        and (" ERROR " in line or " WARNING " in line or "Traceback" in line)
        and "has not been tested by Home Assistant" not in line
    ]


async def setup(demo: Demo, seconds: float) -> None:
    """Onboard, add the NVR, name the PTZ presets, and check the dashboard's entities."""
    async with aiohttp.ClientSession() as session:
        await wait_for_http(session, f"{demo.url}/api/onboarding", seconds)
        token = await onboard(session, demo)
        api = Api(session, demo.url, token)
        await api.wait_running(seconds)
        await confirm_http(session, demo, token)
        await wait_for_http(session, f"http://{demo.nvr_host}:{demo.nvr_port}/", seconds)
        entry = await configure_nvr(api, demo)
        await configure_ptz(api, demo, entry["entry_id"])
        await remove_offline_casualties(api)
        missing = await wait_entities(api, dashboard_entities(demo.config_dir), 30)
    if missing:
        log(f"the dashboard shows entities that do not exist: {', '.join(sorted(missing))}")
    log(f"NVR entry {entry['title']!r} is {entry['state']}")
    for line in integration_problems(demo.config_dir):
        log(f"log: {line}")


def main(argv: list[str] | None = None) -> int:
    """Parse the options and run the set-up; exit code 1 with a reason when a step fails."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8123")
    parser.add_argument("--user", default="demo")
    parser.add_argument("--password", default="demo1234")
    parser.add_argument("--nvr-host", default="127.0.0.1")
    parser.add_argument("--nvr-port", type=int, default=8780)
    parser.add_argument("--nvr-user", default="ADMIN")
    parser.add_argument("--nvr-password", default="12345")
    parser.add_argument("--ptz-camera", type=int, default=1)
    parser.add_argument("--config", type=Path, default=Path("config"))
    parser.add_argument("--timeout", type=float, default=180)
    args = parser.parse_args(argv)
    demo = Demo(
        url=args.url.rstrip("/"),
        user=args.user,
        password=args.password,
        nvr_host=args.nvr_host,
        nvr_port=args.nvr_port,
        nvr_user=args.nvr_user,
        nvr_password=args.nvr_password,
        ptz_camera=args.ptz_camera,
        presets={1: "Entrance", 2: "Parking", 3: "Loading dock"},
        config_dir=args.config,
    )
    try:
        asyncio.run(setup(demo, args.timeout))
    except DemoError as err:
        log(f"set-up failed: {err}")
        return 1
    except KeyboardInterrupt:
        # Ctrl-C during set-up: scripts/develop stops everything, no traceback needed.
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
