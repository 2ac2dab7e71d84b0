from services.command.app import create_app
from shared.adapters import tracing
from shared.adapters.http import serve
from shared.logging import configure_logging
from shared.settings import CommandSettings

settings = CommandSettings()
configure_logging("command", settings.log_level)
traced = tracing.configure("catalog-command", settings)
serve(
    create_app(settings, traced), settings.host, settings.command_port, settings.max_request_bytes
)
