"""`python -m services.protocol_log`: the consumers and the read API in one process."""

from services.protocol_log.api import routes
from services.protocol_log.app import SERVICE, ProtocolLog, ProtocolSettings
from shared.platform.asgi import server
from shared.platform.logging import configure_logging
from shared.platform.runtime import run

if __name__ == "__main__":
    settings = ProtocolSettings()
    configure_logging(SERVICE, settings.log_level)
    runtime = ProtocolLog(settings)
    asgi = runtime.app.as_asgi(asgi_routes=routes(runtime))
    run(server(asgi, settings.protocol_api_host, settings.protocol_api_port).serve())
