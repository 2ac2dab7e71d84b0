"""The one place where a service's GraphQL edge is assembled from the modules beside this one."""

from __future__ import annotations

from ariadne.asgi import GraphQL
from ariadne.explorer import ExplorerGraphiQL, ExplorerHttp405
from ariadne.types import ValidationRules
from graphql import GraphQLSchema
from starlette.routing import Route
from starlette.staticfiles import StaticFiles

from shared.adapters.auth import TokenVerifier
from shared.adapters.graphql_http.context import context
from shared.adapters.graphql_http.errors import format_error
from shared.adapters.graphql_http.explorer import ASSETS_DIR, ASSETS_PATH, OfflineGraphiQL
from shared.adapters.graphql_http.http_handler import HTTPHandler
from shared.adapters.graphql_http.plain_completion import PlainCompletingExecutor
from shared.adapters.graphql_http.query_cache import QueryCache
from shared.adapters.graphql_http.websocket import WebSocketHandler
from shared.adapters.http import ServiceApp, guard_edge
from shared.settings import HttpSettings


def mount_graphql(
    app: ServiceApp,
    schema: GraphQLSchema,
    settings: HttpSettings,
    *,
    verifier: TokenVerifier | None,
    explorer: ExplorerGraphiQL,
    validation_rules: ValidationRules | None = None,
    websocket: bool = False,
) -> None:
    """Serve `schema` at exactly /graphql for HTTP (and WebSocket), behind the service's edge.

    `verifier` set = every POST (and WebSocket connection) needs a valid bearer token. In
    production mode introspection and the explorer are off; errors never carry tracebacks in
    either mode (ariadne's debug stays off). Parsing and spec validation go through a QueryCache,
    execution over HTTP through PlainCompletingExecutor.
    `explorer` is ariadne's GraphiQL page, served with its assets from this service (and
    ASSETS_PATH), never from a CDN.
    """
    guard_edge(app, settings)
    production = settings.production_mode
    offline = None if production else OfflineGraphiQL(explorer)
    graphql = GraphQL(
        schema,
        context_value=context,
        error_formatter=format_error,
        validation_rules=validation_rules,
        introspection=not production,
        explorer=offline or ExplorerHttp405(),
        debug=False,
        http_handler=HTTPHandler(verifier, settings.request_timeout_s),
        websocket_handler=WebSocketHandler(verifier) if websocket else None,
    )
    cache = QueryCache()
    for handler in (graphql.http_handler, graphql.websocket_handler):
        handler.query_parser = cache.parse
        handler.query_validator = cache.validate
    # Queries and mutations over HTTP complete their plain sub-selections in one pass.
    graphql.http_handler.execution_context_class = PlainCompletingExecutor
    # The GraphQL app is the route's ASGI endpoint itself: a request handler function would add
    # Starlette's per-request wrapping (a second Request, exception plumbing) for nothing.
    # First in line: every request to it would otherwise be matched against the others first.
    app.router.routes.insert(0, Route("/graphql", graphql, methods=["GET", "POST", "OPTIONS"]))
    # Unless the process traces, the path is taken before FastAPI's stack (ServiceApp); the
    # GraphQL app answers every error itself, and 405 for the methods it does not serve.
    app.direct_route = ("/graphql", graphql)
    if offline is not None and offline.built:
        app.mount(ASSETS_PATH, StaticFiles(directory=ASSETS_DIR))
    if websocket:
        app.router.add_websocket_route("/graphql", graphql.handle_websocket)  # type: ignore[arg-type]
