"""The dashboard's session, CSRF and error handling, checked over HTTP without a browser."""

from __future__ import annotations

import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from itsdangerous import TimestampSigner

from ordermesh.adapters.db.migrate import upgrade
from ordermesh.api.app import create_app
from ordermesh.bootstrap import Container, bootstrap
from ordermesh.config import Settings
from ordermesh.web.frame import safe_next
from ordermesh.web.secret import secret_path, session_secret
from ordermesh.web.session import SESSION_COOKIE
from tests.e2e.browser.conftest import PASSWORD, Shop, make_user
from tests.factories import balance, receive

HTML = {"accept": "text/html"}


@pytest.fixture(scope="module")
def client(web_container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container=web_container), follow_redirects=False) as c:
        yield c


@pytest.fixture
def browser_like(client: TestClient) -> Iterator[TestClient]:
    client.cookies.clear()
    client.headers.update(HTML)
    yield client
    client.cookies.clear()


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def sign_in(client: TestClient, email: str, *, next_: str = "") -> str:
    token = csrf_of(client.get("/login").text)
    r = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token, "next": next_})
    assert r.status_code == 303, r.text
    return r.headers["location"]


def test_a_form_without_the_session_s_csrf_token_is_refused(browser_like: TestClient, shop: Shop) -> None:
    # given
    sign_in(browser_like, make_user(shop, "ops", name="Asha"))
    form = {"kind": "receipt", "location": "BHW", "quantity": "5"}
    # when
    missing = browser_like.post("/inventory/KURTA-BLU-L/movements", data=form)
    forged = browser_like.post("/inventory/KURTA-BLU-L/movements", data={**form, "csrf_token": "forged"})
    # then
    assert missing.status_code == forged.status_code == 403
    assert "This form has expired" in forged.text
    assert balance(shop.tenant, "KURTA-BLU-L", "BHW").on_hand == 7
    # when the page's own token comes with it
    token = csrf_of(browser_like.get("/inventory/KURTA-BLU-L").text)
    posted = browser_like.post("/inventory/KURTA-BLU-L/movements", data={**form, "csrf_token": token})
    # then
    assert posted.status_code == 303
    assert balance(shop.tenant, "KURTA-BLU-L", "BHW").on_hand == 12


def test_sign_in_needs_the_csrf_token_too(browser_like: TestClient, shop: Shop) -> None:
    email = make_user(shop, "ops", name="Asha")
    browser_like.get("/login")
    r = browser_like.post("/login", data={"email": email, "password": PASSWORD})
    assert r.status_code == 403
    assert browser_like.get("/inventory").status_code == 303


def test_the_session_cookie_is_signed_httponly_and_lax(browser_like: TestClient) -> None:
    cookie = browser_like.get("/login").headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "httponly" in cookie.lower()
    assert "samesite=lax" in cookie.lower()
    assert "secure" not in cookie.lower()


def test_the_session_cookie_is_secure_when_served_over_https(web_container: Container) -> None:
    settings = Settings(database_url=web_container.settings.database_url, session_cookie_secure=True)
    with TestClient(create_app(settings, container=web_container), base_url="https://testserver") as c:
        cookie = c.get("/login", headers=HTML).headers["set-cookie"]
    assert "; secure" in cookie.lower()


def test_a_cookie_signed_with_another_secret_signs_no_one_in(browser_like: TestClient, shop: Shop) -> None:
    # given a session naming a real user, signed with the wrong key
    sign_in(browser_like, make_user(shop, "admin", name="Admin"))
    value = browser_like.cookies[SESSION_COOKIE]
    payload = value.split(".")[0].encode()
    browser_like.cookies.clear()
    browser_like.cookies.set(SESSION_COOKIE, TimestampSigner("not-the-secret").sign(payload).decode())
    # when
    r = browser_like.get("/inventory")
    # then
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=/inventory"


def test_the_api_ignores_the_dashboard_session(browser_like: TestClient, shop: Shop) -> None:
    sign_in(browser_like, make_user(shop, "admin", name="Admin"))
    r = browser_like.get("/api/v1/skus", headers={"accept": "application/json"})
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    assert "set-cookie" not in r.headers


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", "inventory"]
)
def test_sign_in_never_sends_the_user_to_another_site(browser_like: TestClient, shop: Shop, target: str) -> None:
    assert safe_next(target) is None
    assert sign_in(browser_like, make_user(shop, "viewer", name="V"), next_=target) == "/inventory"


def test_sign_in_returns_to_a_page_on_this_site(browser_like: TestClient, shop: Shop) -> None:
    location = sign_in(browser_like, make_user(shop, "viewer", name="V"), next_="/inventory/KURTA-BLU-M?location=BHW")
    assert location == "/inventory/KURTA-BLU-M?location=BHW"


def test_pages_forbid_framing_inline_scripts_and_caching(browser_like: TestClient) -> None:
    r = browser_like.get("/login")
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["cache-control"] == "no-store"
    assert "<script>" not in r.text and "style=" not in r.text


def test_browsers_get_an_html_404_and_api_clients_problem_json(browser_like: TestClient) -> None:
    page = browser_like.get("/no/such/page")
    api = browser_like.get("/api/v1/no-such-thing", headers={"accept": "application/json"})
    assert page.status_code == api.status_code == 404
    assert page.headers["content-type"].startswith("text/html") and "Page not found" in page.text
    assert api.headers["content-type"] == "application/problem+json"


def test_static_files_are_served_from_the_package(browser_like: TestClient) -> None:
    for name, kind in (("app.css", "text/css"), ("app.js", "javascript"), ("favicon.svg", "image/svg+xml")):
        r = browser_like.get(f"/static/{name}")
        assert r.status_code == 200 and kind in r.headers["content-type"]
        assert "set-cookie" not in r.headers


def test_a_generated_secret_is_kept_next_to_the_sqlite_database_and_reused(tmp_path: Path) -> None:
    # given
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'var' / 'ordermesh.db'}")
    # when
    first, second = session_secret(settings), session_secret(settings)
    # then
    path = tmp_path / "var" / "secret_key"
    assert first == second == path.read_text().strip()
    assert len(first) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []


def test_a_process_serving_only_the_api_never_creates_the_secret(tmp_path: Path) -> None:
    # given an app on a database of its own
    container = bootstrap(Settings(database_url=f"sqlite:///{tmp_path / 'om.db'}"))
    upgrade(container.engine)
    with TestClient(create_app(container=container)) as client:
        # when
        for path in ("/healthz", "/metrics", "/api/v1/skus", "/static-offline-docs/swagger-ui-bundle.js"):
            assert "set-cookie" not in client.get(path).headers
        # then
        assert not (tmp_path / "secret_key").exists()
        # and the first dashboard page makes it
        assert SESSION_COOKIE in client.get("/login").headers["set-cookie"]
        assert (tmp_path / "secret_key").exists()
    container.close()


def test_a_configured_secret_wins_and_no_file_is_written(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'om.db'}", secret_key="k" * 40)
    assert session_secret(settings) == "k" * 40
    assert not (tmp_path / "secret_key").exists()


def test_where_the_secret_is_kept_for_each_kind_of_database() -> None:
    assert secret_path("sqlite:///var/ordermesh.db") == Path("var/secret_key")
    assert secret_path("sqlite:////srv/om/data.db") == Path("/srv/om/data.db").parent / "secret_key"
    assert secret_path("postgresql://om@db:5432/om") == Path("var/secret_key")
    assert secret_path("sqlite://") is None
    assert secret_path("sqlite:///:memory:") is None


def test_the_ledger_pages_newest_first_with_the_cursor(browser_like: TestClient, shop: Shop) -> None:
    # given 30 more receipts on top of the shop's two
    for n in range(1, 31):
        receive(shop.tenant, "KURTA-BLU-M", "BHW", n)
    sign_in(browser_like, make_user(shop, "viewer", name="V"))
    # when
    first = browser_like.get("/inventory/KURTA-BLU-M").text
    next_link = re.search(r'href="(/inventory/KURTA-BLU-M\?cursor=[^"]+)" rel="next"', first)
    assert next_link, "no link to the next ledger page"
    second = browser_like.get(next_link.group(1).replace("&amp;", "&")).text
    # then
    assert first.count("<time ") == 25 and second.count("<time ") == 7
    assert re.search(r'class="num delta">\+30<', first)  # the newest receipt leads
    assert re.search(r'class="num delta">\+40<', second)  # the oldest closes
    assert 'rel="next"' not in second and "First page" in second


def test_a_role_without_inventory_write_cannot_post_a_movement(browser_like: TestClient, shop: Shop) -> None:
    sign_in(browser_like, make_user(shop, "viewer", name="V"))
    page = browser_like.get("/inventory/KURTA-BLU-L").text
    assert "Post a movement" not in page
    r = browser_like.post(
        "/inventory/KURTA-BLU-L/movements",
        data={"csrf_token": csrf_of(page), "kind": "receipt", "location": "BHW", "quantity": "5"},
    )
    assert r.status_code == 403 and "may not do this" in r.text
    assert balance(shop.tenant, "KURTA-BLU-L", "BHW").on_hand == 7


def test_signing_out_is_a_post_with_the_token(browser_like: TestClient, shop: Shop) -> None:
    sign_in(browser_like, make_user(shop, "viewer", name="V"))
    page = browser_like.get("/inventory").text
    assert browser_like.get("/logout").status_code == 405
    assert browser_like.post("/logout", data={"csrf_token": csrf_of(page)}).headers["location"] == "/login?signed_out=1"
    assert browser_like.get("/inventory").status_code == 303
