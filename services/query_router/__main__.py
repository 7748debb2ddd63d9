"""`python -m services.query_router`"""

from services.query_router.app import SERVICE, QueryRouter, RouterSettings
from shared.platform.logging import configure_logging
from shared.platform.runtime import run

if __name__ == "__main__":
    settings = RouterSettings()
    configure_logging(SERVICE, settings.log_level)
    run(QueryRouter(settings).app.run())
