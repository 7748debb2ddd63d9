"""`python -m services.portal`: the consumers and the requester API in one process."""

from services.portal.api import routes
from services.portal.app import SERVICE, PortalService, PortalSettings
from shared.platform.asgi import server
from shared.platform.logging import configure_logging
from shared.platform.runtime import run

if __name__ == "__main__":
    settings = PortalSettings()
    configure_logging(SERVICE, settings.log_level)
    runtime = PortalService(settings)
    asgi = runtime.app.as_asgi(asgi_routes=routes(runtime))
    run(server(asgi, settings.portal_api_host, settings.portal_api_port).serve())
