"""GraphQL over HTTP (and WebSocket) with ariadne: the services' GraphQL edge, one idea a module.

- `schema`: loading the SDL files of schema/
- `errors`: the error contract (every error has `extensions.code`)
- `context`: what resolvers know of the request (correlation id, caller)
- `http_handler`: the HTTP handler (spec media types and status codes, token check, timeout)
- `websocket`: graphql-transport-ws with the token in `connection_init`
- `shared_events`: a subscription event executed once per distinct operation, for all its
  subscribers
- `query_cache`: parsing and spec validation once per query text
- `explorer`: ariadne's GraphiQL page with its assets served by the service (no CDN)
- `mount`: `mount_graphql`, which assembles them behind the service's edge

The names below stay importable from here, the services' one import path.
"""

from shared.adapters.graphql_http.context import Info, context, principal
from shared.adapters.graphql_http.errors import format_error
from shared.adapters.graphql_http.mount import mount_graphql
from shared.adapters.graphql_http.query_cache import QueryCache
from shared.adapters.graphql_http.schema import SCHEMA_DIR, load_sdl
from shared.adapters.graphql_http.shared_events import SharedEvent

__all__ = [
    "SCHEMA_DIR",
    "Info",
    "QueryCache",
    "SharedEvent",
    "context",
    "format_error",
    "load_sdl",
    "mount_graphql",
    "principal",
]
