"""`python -m services.provisioning`: the consumers and the authentication API in one process."""

import asyncio
import contextlib
import signal
from collections.abc import Iterator

import uvicorn

from services.provisioning.api import routes
from services.provisioning.app import SERVICE, Provisioning, ProvisioningSettings
from shared.logging import configure_logging


class Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # shut down gracefully and exit 0 like every other service; uvicorn's own handling
        # re-raises the signal after the shutdown, which supervisors read as a crash
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self.handle_exit)
        yield


if __name__ == "__main__":
    settings = ProvisioningSettings()
    configure_logging(SERVICE, settings.log_level)
    runtime = Provisioning(settings)
    asgi = runtime.app.as_asgi(asgi_routes=routes(runtime))
    server = Server(
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
