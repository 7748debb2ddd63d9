"""`python -m services.dashboard`: the operators' live page."""

from services.dashboard.app import SERVICE, DashboardService, DashboardSettings
from shared.platform.asgi import server
from shared.platform.logging import configure_logging
from shared.platform.runtime import run

if __name__ == "__main__":
    settings = DashboardSettings()
    configure_logging(SERVICE, settings.log_level)
    asgi = DashboardService(settings)
    # open event streams are closed, not waited for
    page = server(
        asgi, settings.dashboard_host, settings.dashboard_port, timeout_graceful_shutdown=3
    )
    run(page.serve())
