"""`python -m services.dashboard`: the operators' live page."""

import asyncio
import contextlib
import signal
from collections.abc import Iterator

import uvicorn

from services.dashboard.app import SERVICE, DashboardService, DashboardSettings
from shared.logging import configure_logging


class Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # shut down gracefully and exit 0 like every other service
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self.handle_exit)
        yield


if __name__ == "__main__":
    settings = DashboardSettings()
    configure_logging(SERVICE, settings.log_level)
    server = Server(
        uvicorn.Config(
            DashboardService(settings),
            host=settings.dashboard_host,
            port=settings.dashboard_port,
            lifespan="on",
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=3,  # open event streams are closed, not waited for
        )
    )
    asyncio.run(server.serve())
