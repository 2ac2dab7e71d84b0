import gc

from services.query.app import create_app
from shared.adapters import tracing
from shared.adapters.http import serve
from shared.logging import configure_logging
from shared.settings import QuerySettings

settings = QuerySettings()
configure_logging("query", settings.log_level)
app = create_app(settings, tracing.configure("catalog-query", settings))
# Everything built so far (modules, the schema, the app) lives as long as the process: out of
# the cyclic GC's sight, full collections no longer walk it and pause requests (bench/RESULTS.md).
# Here rather than in the app's lifespan, which also runs inside other processes (the tests').
gc.collect()
gc.freeze()
serve(app, settings.host, settings.query_port, settings.max_request_bytes)
