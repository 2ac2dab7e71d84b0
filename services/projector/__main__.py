from services.projector.app import create_app
from shared.adapters.http import serve
from shared.logging import configure_logging
from shared.settings import ProjectorSettings

settings = ProjectorSettings()
configure_logging("projector", settings.log_level)
serve(create_app(settings), settings.host, settings.projector_port)
