"""The dashboard in a real browser: Playwright driving Debian's Chromium against the app served by
uvicorn in a background thread, on a migrated SQLite database of its own.

Playwright never downloads a browser here. Without /usr/bin/chromium (``make chromium`` installs
it) the browser tests skip with a message, except under CI=true, where that is a failure.
"""

from __future__ import annotations

import secrets
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect, sync_playwright

from ordermesh.adapters.db.migrate import upgrade
from ordermesh.api.app import create_app
from ordermesh.bootstrap import Container, bootstrap
from ordermesh.config import Settings
from ordermesh.services import platform
from tests.conftest import IN_CI, TenantCtx, new_tenant
from tests.factories import make_bundle, make_location, make_sku, receive

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 800}
PASSWORD = "correct horse battery staple"
BARCODE = "8901234567890"


@pytest.fixture(scope="session")
def web_container(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Container]:
    """A migrated SQLite database for the browser tests; the session secret is generated next to it."""
    db = tmp_path_factory.mktemp("browser") / "var" / "ordermesh.db"
    container = bootstrap(Settings(database_url=f"sqlite:///{db}", pool_size=20))
    upgrade(container.engine)
    yield container
    container.close()


@dataclass(frozen=True)
class LiveServer:
    url: str
    container: Container


@pytest.fixture(scope="session")
def live_server(web_container: Container) -> Iterator[LiveServer]:
    """The whole app (API and dashboard) on a free port of 127.0.0.1, served from a thread."""
    app = create_app(container=web_container)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="none", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="uvicorn", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(server, thread, url)
        yield LiveServer(url, web_container)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def _wait_until_up(server: uvicorn.Server, thread: threading.Thread, url: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise RuntimeError("the test server stopped while starting; see the log above")
        if server.started:
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
        time.sleep(0.05)
    raise RuntimeError(f"the test server did not answer at {url} within {timeout} s")


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: run 'make chromium' (apt-get install chromium)"
        if IN_CI:
            pytest.fail(f"{message} (CI=true: browser tests must run, not skip)", pytrace=False)
        pytest.skip(message)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    """A fresh browser context (no cookies) per test, at a laptop's size, in India's locale and time."""
    context = browser.new_context(
        base_url=live_server.url, viewport=VIEWPORT, locale="en-IN", timezone_id="Asia/Kolkata"
    )
    context.set_default_timeout(10_000)
    expect.set_options(timeout=10_000)
    tab = context.new_page()
    yield tab
    context.close()


@dataclass(frozen=True)
class Shop:
    """A tenant with two warehouses (Bhiwandi BHW, Gurugram GGN), three SKUs and a bundle, and stock."""

    tenant: TenantCtx

    @property
    def code(self) -> str:
        return self.tenant.code


def open_shop(t: TenantCtx) -> Shop:
    make_location(t, "BHW", "MH", name="Bhiwandi warehouse")
    make_location(t, "GGN", "HR", name="Gurugram warehouse")
    make_sku(t, "KURTA-BLU-M", name="Blue cotton kurta, M", barcodes=[BARCODE])
    make_sku(t, "KURTA-BLU-L", name="Blue cotton kurta, L")
    make_sku(t, "DUPATTA-RED", name="Red chiffon dupatta", hsn="6214", gst_rate="12", mrp="449.00")
    make_bundle(t, "KURTA-SET-M", {"KURTA-BLU-M": 1, "DUPATTA-RED": 1})
    receive(t, "KURTA-BLU-M", "BHW", 40)
    receive(t, "KURTA-BLU-M", "GGN", 12)
    receive(t, "KURTA-BLU-L", "BHW", 7)
    receive(t, "DUPATTA-RED", "BHW", 25)
    return Shop(t)


@pytest.fixture
def shop(web_container: Container) -> Shop:
    return open_shop(new_tenant(web_container, "kurta-co"))


def make_user(shop: Shop, role: str, *, name: str, locations: list[str] | None = None) -> str:
    """A dashboard user in the shop's tenant; returns the email. Every test user has PASSWORD."""
    email = f"{role}-{secrets.token_hex(4)}@{shop.code}.example.in"
    with shop.tenant.container.uow(tenant_id=None) as uow:
        platform.create_user(
            uow, tenant=shop.code, email=email, name=name, password=PASSWORD, role=role, locations=locations
        )
    return email


def sign_in(page: Page, email: str, password: str = PASSWORD, *, succeeds: bool = True) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    if succeeds:
        expect(page.get_by_test_id("user-name")).to_be_visible()
