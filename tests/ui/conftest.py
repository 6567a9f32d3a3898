"""Browser tests: Debian's Chromium, driven by Playwright, against a real ``prefect server start``
(its default V2 UI) with ``place-call/by-hand`` and ``call-campaign/on-demand`` served from
``prefect.yaml``, and the Casey sandbox with slowed-down calls.

One server, one served process, one sandbox and one browser for the whole session; a fresh
browser context (no cookies, no cache) per test. Every request that leaves 127.0.0.1 is aborted
(block-type logos on CDNs, the UI's analytics). On failure the page is kept as a screenshot in
the test's tmp path and in ``.ui-screenshots/`` (ignored by git); the report prints both.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

try:
    from playwright.sync_api import Browser, Page, Route, expect, sync_playwright
except ImportError as exc:  # a clear failure, never a silent skip (CI must not pass without it)
    raise ImportError(
        "tests/ui need Playwright for Python: `pip install -e '.[dev]'` (or `pip install "
        "playwright`). It drives Debian's chromium; never run `playwright install`."
    ) from exc

from casey_flows.blocks import CaseyCredentials
from casey_flows.blocks.credentials import DEFAULT_BLOCK_NAME
from casey_flows.sandbox.embedded import EmbeddedSandbox, running_sandbox
from deployments.spec import REPO_ROOT
from tests.deployments.stack import PrefectStack
from tests.ui.api import PrefectApi
from tests.ui.pages import PrefectUI

CHROMIUM = os.environ.get("CASEY_FLOWS_CHROMIUM", "/usr/bin/chromium")
# Headless, as root, on a machine with no network but loopback: nothing of Chromium's own
# (updates, sync, QUIC probes) may try to go out.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = REPO_ROOT / ".ui-screenshots"
DEPLOYMENTS = ["place-call/by-hand", "call-campaign/on-demand"]
# A 60 s call takes 3 s: slow enough that a cancel lands mid-campaign, fast enough for CI.
SANDBOX_SPEED = 20.0
LOCAL_HOSTS = {"127.0.0.1"}
ELSEWHERE_WS = re.compile(r"^wss?://(?!127\.0\.0\.1[:/])")


@dataclass
class UIStack:
    """What the tests talk to: the server's root (UI under /v2), its REST API, the sandbox."""

    root: str
    api: PrefectApi
    sandbox: EmbeddedSandbox
    prefect: PrefectStack


@pytest.fixture(scope="session")
def chromium() -> str:
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"no Chromium at {CHROMIUM}: the browser tests need Debian's chromium "
            "(`apt-get install -y chromium`; .ci/run installs it), or set CASEY_FLOWS_CHROMIUM "
            "to another Chromium binary. See docs/browser-tests.md.",
            pytrace=False,
        )
    return CHROMIUM


@pytest.fixture(scope="session")
def ui_sandbox() -> Iterator[EmbeddedSandbox]:
    with running_sandbox(seed=11, speed=SANDBOX_SPEED) as running:
        yield running


@pytest.fixture(scope="session")
def ui_stack(
    ui_sandbox: EmbeddedSandbox, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[UIStack]:
    stack = PrefectStack(tmp_path_factory.mktemp("prefect-ui"))
    api = PrefectApi(stack.api_url)
    try:
        # The UI's own API address (its default is port 4200, not this server's).
        stack.start_server(extra_env={"PREFECT_UI_API_URL": stack.api_url})
        served = stack.service("serve")
        argv = [sys.executable, "-m", "deployments.serve", *DEPLOYMENTS]
        served.start(argv, 0, stack.env, cwd=REPO_ROOT)
        with stack.client_settings():
            block = CaseyCredentials(api_key=ui_sandbox.api_key, base_url=ui_sandbox.base_url)
            asyncio.run(block.asave(DEFAULT_BLOCK_NAME, overwrite=True))
            for name in DEPLOYMENTS:
                asyncio.run(stack.wait_for_deployment(name, served))
        yield UIStack(stack.api_url.removesuffix("/api"), api, ui_sandbox, stack)
    except BaseException:
        print(stack.logs())
        raise
    finally:
        api.close()
        stack.stop()


@pytest.fixture(scope="session")
def browser(chromium: str, ui_stack: UIStack) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(60_000)
    blocked: list[str] = []

    def keep_local(route: Route) -> None:
        url = urlsplit(route.request.url)
        if url.scheme in {"http", "https", "ws", "wss"} and url.hostname not in LOCAL_HOSTS:
            blocked.append(f"{url.scheme}://{url.hostname}")
            route.abort()
        else:
            route.continue_()

    context.route("**/*", keep_local)
    # WebSockets do not pass through route(): those to anywhere but loopback are closed.
    context.route_web_socket(ELSEWHERE_WS, lambda ws: (blocked.append(ws.url), ws.close()))
    request.node.ui_failure_dir = tmp_path / "screenshots"
    request.node.ui_blocked = blocked
    page = context.new_page()
    request.node.ui_page = page
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def ui(page: Page, ui_stack: UIStack) -> PrefectUI:
    return PrefectUI(page, ui_stack.root)


# Eventual consistency: the UI polls; give its pages time on a busy 2-core machine.
expect.set_options(timeout=60_000)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if not report.failed or report.when not in {"setup", "call"}:
        return
    page: Page | None = getattr(item, "ui_page", None)
    if page is not None and not page.is_closed():
        report.sections.append(("UI screenshot", _screenshot(item, page)))
    stack = getattr(item, "funcargs", {}).get("ui_stack")
    if isinstance(stack, UIStack):
        report.sections.append(("Prefect server and served deployments", stack.prefect.logs()))


def _screenshot(item: pytest.Item, page: Page) -> str:
    """The page as it was when the test failed, in the test's tmp path and .ui-screenshots/;
    where they are (printed too), and the requests that were blocked."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid.split("::", 1)[-1])
    shot_dir: Path = item.ui_failure_dir  # type: ignore[attr-defined]
    shot_dir.mkdir(parents=True, exist_ok=True)
    shot = shot_dir / f"{name}.png"
    try:
        page.screenshot(path=str(shot), full_page=True)
    except Exception as exc:  # the failure itself matters more than its picture
        return f"no screenshot: {exc}"
    SCREENSHOTS.mkdir(exist_ok=True)
    kept = SCREENSHOTS / shot.name
    shutil.copyfile(shot, kept)
    lines = [f"page at failure: {page.url}", f"screenshot: {shot}", f"also kept as: {kept}"]
    blocked = sorted(set(getattr(item, "ui_blocked", [])))
    if blocked:
        lines.append(f"requests blocked (not 127.0.0.1): {', '.join(blocked)}")
    print("\n".join(lines), file=sys.stderr)
    return "\n".join(lines)
