"""`python -m services.provisioning`: the consumers and the authentication API in one process."""

import asyncio

import uvicorn

from services.provisioning.api import routes
from services.provisioning.app import SERVICE, Provisioning, ProvisioningSettings
from shared.logging import configure_logging

if __name__ == "__main__":
    settings = ProvisioningSettings()
    configure_logging(SERVICE, settings.log_level)
    runtime = Provisioning(settings)
    asgi = runtime.app.as_asgi(asgi_routes=routes(runtime))
    server = uvicorn.Server(
        uvicorn.Config(
            asgi,
            host=settings.http_host,
            port=settings.http_port,
            lifespan="on",
            log_config=None,
            access_log=False,
        )
    )
    asyncio.run(server.serve())
