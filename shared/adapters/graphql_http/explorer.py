"""The GraphiQL explorer served whole by the service itself: no CDN, so it works offline.

ariadne's ExplorerGraphiQL renders a page whose inline script imports bare module names
('react', 'graphiql', ...) through an import map that points at a CDN, and links the CDN's
stylesheet. tools/graphiql builds the same npm packages (versions pinned in its
package-lock.json, the ones ariadne's page names) into dist/ at install time, with a manifest
of which file stands for which module name. Here only those URLs of ariadne's page are
replaced: the import map, the stylesheet link and the module preloads; its script, title and
default query stay as ariadne renders them. A page that would still load anything from
elsewhere (say, once ariadne adds a module we do not build) is refused at start-up.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

from ariadne.explorer import Explorer, ExplorerGraphiQL

log = logging.getLogger(__name__)

ASSETS_DIR = Path(__file__).resolve().parents[3] / "tools" / "graphiql" / "dist"
ASSETS_PATH = "/graphql/assets"

_IMPORT_MAP = re.compile(r'<script type="importmap">.*?</script>', re.DOTALL)
_STYLESHEET = re.compile(
    r'<link rel="stylesheet" href="https://esm\.sh/graphiql@[^"/]+/dist/style\.css"[^>]*>'
)
_PRELOAD = re.compile(r'\s*<link rel="modulepreload" href="https://esm\.sh/[^"]*"[^>]*>')
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_MODULE_SCRIPT = re.compile(r'<script type="module">(.*?)</script>', re.DOTALL)
_IMPORTED = re.compile(r"""\bimport\s+(?:[\w{}*,\s]+?\s+from\s+)?['"]([^'"]+)['"]""")
# An absolute or protocol-relative URL: what the rewritten page must no longer contain.
_URL = re.compile(r"\b(?:https?|wss?)://|(?:src|href)\s*=\s*[\"']//", re.IGNORECASE)


class ExplorerNotOffline(RuntimeError):
    """ariadne's page still points somewhere else after the rewrite."""


def offline_page(page: str, manifest: dict[str, Any], base: str = ASSETS_PATH) -> str:
    """ariadne's GraphiQL `page` with every asset URL pointing at `base` (where dist/ is
    served), as `manifest` (dist/manifest.json) maps module names to files."""
    imports = {name: f"{base}/{file}" for name, file in manifest["imports"].items()}
    import_map = json.dumps({"imports": imports}, indent=2)
    page, maps = _IMPORT_MAP.subn(
        lambda _: f'<script type="importmap">\n{import_map}\n</script>', page
    )
    stylesheet = f'<link rel="stylesheet" href="{base}/{manifest["stylesheet"]}" />'
    page, sheets = _STYLESHEET.subn(lambda _: stylesheet, page)
    page = _PRELOAD.sub("", page)
    if (maps, sheets) != (1, 1):
        raise ExplorerNotOffline(
            f"ariadne's GraphiQL page changed: {maps} import maps, {sheets} stylesheets"
        )
    imported = {
        name for script in _MODULE_SCRIPT.findall(page) for name in _IMPORTED.findall(script)
    }
    missing = sorted(imported - set(imports))
    if not imported or missing:
        raise ExplorerNotOffline(f"tools/graphiql builds no module for {missing or 'the page'}")
    leftover = _URL.findall(_COMMENT.sub("", page))
    if leftover:
        raise ExplorerNotOffline(f"ariadne's GraphiQL page still loads from elsewhere: {leftover}")
    return page


_NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="UTF-8"><title>{title}</title></head>
<body><p>The GraphiQL explorer is not built on this machine: run <code>make install</code>
(it needs Node.js 18+ and npm), then restart this service. The GraphQL endpoint itself works:
POST queries to this URL.</p></body></html>
"""


class OfflineGraphiQL(Explorer):
    """ariadne's GraphiQL page (title, default query and script as configured), with its assets
    served from ASSETS_PATH; a page saying how to build them when tools/graphiql/dist is
    missing."""

    def __init__(self, explorer: ExplorerGraphiQL, assets: Path = ASSETS_DIR) -> None:
        page = explorer.html(None)
        manifest = assets / "manifest.json"
        self.built = manifest.is_file()
        if self.built:
            self._page = offline_page(page, json.loads(manifest.read_text()))
        else:
            log.warning(
                "GraphiQL's assets are not built (%s missing): run `make install`", manifest
            )
            title = re.search(r"<title>(.*?)</title>", page)
            self._page = _NOT_BUILT.format(title=title.group(1) if title else "GraphiQL")

    def html(self, request: Any) -> str:
        return self._page
