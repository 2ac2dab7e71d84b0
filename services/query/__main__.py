from services.query.app import create_app
from shared.adapters.http import serve
from shared.logging import configure_logging
from shared.settings import QuerySettings

settings = QuerySettings()
configure_logging("query", settings.log_level)
serve(create_app(settings), settings.host, settings.query_port, settings.max_request_bytes)
