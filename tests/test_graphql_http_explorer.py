"""shared.adapters.graphql_http.explorer: ariadne's GraphiQL page, rewritten to load nothing but
the service's own files (tests/e2e/test_explorer.py uses it in a real browser)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from ariadne.explorer import ExplorerGraphiQL

from shared.adapters.graphql_http.explorer import (
    ExplorerNotOffline,
    OfflineGraphiQL,
    offline_page,
)
from tests.support.infra import ROOT

MODULES = ["react", "react-dom/client", "graphiql", "@graphiql/toolkit"]
WORKERS = "graphiql/setup-workers/esm.sh"
MANIFEST = {
    "imports": {name: f"{i}.js" for i, name in enumerate([*MODULES, WORKERS])},
    "stylesheet": "style.css",
}


def test_every_asset_of_ariadnes_page_comes_from_the_service() -> None:
    original = ExplorerGraphiQL(title="Catalog", default_query="{ ping }").html(None)
    assert "https://esm.sh/" in original
    page = offline_page(original, MANIFEST, "/graphql/assets")
    head = re.sub(r"<!--.*?-->", "", page, flags=re.DOTALL)
    assert "https://" not in head and "esm.sh/" not in head.replace(WORKERS, "")
    [import_map] = re.findall(r'<script type="importmap">(.*?)</script>', page, re.DOTALL)
    assert json.loads(import_map)["imports"] == {
        name: f"/graphql/assets/{file}" for name, file in MANIFEST["imports"].items()
    }
    assert '<link rel="stylesheet" href="/graphql/assets/style.css" />' in page
    assert "modulepreload" not in page
    # The rest is ariadne's: title, default query and script unchanged.
    assert "<title>Catalog</title>" in page and "initialQuery: '{ ping }'" in page
    script = re.compile(r'<script type="module">.*?</script>', re.DOTALL)
    assert script.findall(page) == script.findall(original)


def test_a_page_that_would_still_need_a_cdn_is_refused() -> None:
    with_plugin = ExplorerGraphiQL(explorer_plugin=True).html(None)
    with pytest.raises(ExplorerNotOffline):
        offline_page(with_plugin, MANIFEST)
    page = ExplorerGraphiQL().html(None)
    with pytest.raises(ExplorerNotOffline, match="graphiql/setup-workers"):
        offline_page(page, {**MANIFEST, "imports": dict.fromkeys(MODULES, "x.js")})
    with pytest.raises(ExplorerNotOffline):
        offline_page(page.replace("importmap", "import-map"), MANIFEST)


def test_the_built_packages_are_the_versions_ariadnes_page_names() -> None:
    """tools/graphiql's lock file must follow ariadne's page: a new ariadne that names other
    versions of GraphiQL, React or graphql fails here until the lock file is updated."""
    page = ExplorerGraphiQL().html(None)
    named = dict(re.findall(r"https://esm\.sh/((?:@[\w-]+/)?[\w-]+)@([\d.]+)", page))
    del named["@graphiql/plugin-explorer"]  # mapped, but imported only with the plugin on
    lock = json.loads((ROOT / "tools" / "graphiql" / "package-lock.json").read_text())
    locked = {name: lock["packages"][f"node_modules/{name}"]["version"] for name in named}
    assert named == locked
    assert {"graphiql", "react", "react-dom", "graphql", "@graphiql/react"} <= set(named)


def test_without_built_assets_the_page_says_how_to_build_them(tmp_path: Path) -> None:
    explorer = OfflineGraphiQL(ExplorerGraphiQL(title="Catalog query service"), tmp_path)
    assert not explorer.built
    page = explorer.html(None)
    assert "make install" in page and "Catalog query service" in page
    assert "https://" not in page
