"""`python -m services.provisioning`: the consumers and the authentication API in one process."""

from services.provisioning.api import routes
from services.provisioning.app import SERVICE, Provisioning, ProvisioningSettings
from shared.platform.asgi import server
from shared.platform.logging import configure_logging
from shared.platform.runtime import run

if __name__ == "__main__":
    settings = ProvisioningSettings()
    configure_logging(SERVICE, settings.log_level)
    runtime = Provisioning(settings)
    asgi = runtime.app.as_asgi(asgi_routes=routes(runtime))
    run(server(asgi, settings.http_host, settings.http_port).serve())
