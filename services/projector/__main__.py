from services.projector.app import create_app
from shared.adapters import tracing
from shared.adapters.http import serve
from shared.logging import configure_logging
from shared.settings import ProjectorSettings

settings = ProjectorSettings()
configure_logging("projector", settings.log_level)
traced = tracing.configure("catalog-projector", settings)
serve(create_app(settings, traced), settings.host, settings.projector_port)
