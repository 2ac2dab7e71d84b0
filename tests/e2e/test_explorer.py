"""The GraphiQL explorer of both endpoints, used in a real browser, offline.

Debian's chromium, driven by playwright-core (tools/browser/explorer.mjs; `make test` installs
chromium with apt-get when it is missing, npm installs playwright-core from its lock file, and
nothing ever downloads a browser), opens each /graphql page, waits for the editor, types an
operation (on the command endpoint with the token in the Headers tab), runs it and reads the
result GraphiQL shows. Every request the page or its workers make must go to the service on
127.0.0.1: anything else is refused by the driver and fails the test.
"""

from __future__ import annotations

import http.server
import json
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ariadne.explorer import ExplorerGraphiQL

from tests.e2e.conftest import Stack
from tests.support import auth, npm
from tests.support.infra import ROOT

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module", autouse=True)
def built_assets() -> None:
    """GraphiQL's assets, built before the services start (autouse fixtures come first), as
    `make install` builds them; a no-op when they are current."""
    subprocess.run([ROOT / "tools" / "graphiql" / "build.sh"], check=True, timeout=600)


def browse(
    url: str,
    query: str,
    wait_for: str,
    screenshot: Path,
    headers: dict[str, str] | None = None,
    timeout_ms: int = 30_000,
) -> tuple[int, dict[str, Any]]:
    """(exit code, report) of tools/browser/explorer.mjs using the explorer at `url`."""
    if not CHROMIUM.exists():
        raise RuntimeError(
            f"{CHROMIUM} not found: `make test` installs it (or: apt-get install chromium)"
        )
    tool = npm.install("browser")
    argument = {
        "url": url,
        "query": query,
        "headers": headers,
        "waitFor": wait_for,
        "screenshot": str(screenshot),
        "timeoutMs": timeout_ms,
    }
    done = subprocess.run(
        [npm.require("node"), str(tool / "explorer.mjs"), json.dumps(argument)],
        cwd=tool,
        capture_output=True,
        text=True,
        timeout=180,
    )
    try:
        report: dict[str, Any] = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise RuntimeError(f"the browser driver failed:\n{done.stdout}\n{done.stderr}") from None
    return done.returncode, report


def assert_offline(report: dict[str, Any], origin: str) -> None:
    """Everything from the service itself (the editor's workers too, whenever GraphiQL starts
    them), nothing refused or failed, no script error; GraphiQL's own files among them."""
    assert report["refused"] == [], report["refused"]
    assert report["failed"] == [] and report["errors"] == [], report
    urls = [r.split(" ", 1)[1] for r in report["requests"]]
    assert all(u.startswith(f"{origin}/") for u in urls), urls
    assets = {u.removeprefix(f"{origin}/graphql/assets/") for u in urls}
    assert {"graphiql.js", "react.js", "style.css"} <= assets, urls


CREATE = (
    'mutation {{ createProduct(input: {{sku: "{sku}", name: "Typed in GraphiQL", '
    'price: {{amount: "3.50", currency: "EUR"}}, category: "browser"}}) {{ id version }} }}'
)


def test_a_mutation_and_a_query_typed_into_graphiql(stack: Stack, tmp_path: Path) -> None:
    sku = f"BROWSER-{uuid.uuid4().hex[:8]}"
    code, report = browse(
        stack.command.graphql_url,
        CREATE.format(sku=sku),
        wait_for='"version"',
        screenshot=tmp_path / "command.png",
        headers={"Authorization": f"Bearer {auth.token()}"},
    )
    assert code == 0, report
    assert_offline(report, stack.command.url)
    assert sku in report["typed"], report["typed"]
    created = json.loads(report["result"])["data"]["createProduct"]
    assert created["version"] == 1 and uuid.UUID(created["id"])

    query = f'{{ product(id: "{created["id"]}", minVersion: 1) {{ sku name version }} }}'
    code, report = browse(
        stack.query.graphql_url, query, wait_for=sku, screenshot=tmp_path / "query.png"
    )
    assert code == 0, report
    assert_offline(report, stack.query.url)
    assert json.loads(report["result"]) == {
        "data": {"product": {"sku": sku, "name": "Typed in GraphiQL", "version": 1}}
    }


@pytest.fixture
def cdn_page(tmp_path: Path) -> Iterator[str]:
    """ariadne's own GraphiQL page, as it is without our rewrite, served from 127.0.0.1."""
    (tmp_path / "index.html").write_text(ExplorerGraphiQL(title="CDN").html(None))

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(tmp_path), **kwargs)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    server.shutdown()
    server.server_close()


def test_the_driver_sees_a_page_that_needs_a_cdn(cdn_page: str, tmp_path: Path) -> None:
    """The check is not a rubber stamp: ariadne's unmodified page asks a CDN, and gets nothing."""
    code, report = browse(
        cdn_page, "{ __typename }", "__typename", tmp_path / "cdn.png", timeout_ms=3000
    )
    assert code == 1
    assert report["refused"] and all("esm.sh" in u for u in report["refused"]), report
