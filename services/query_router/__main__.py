"""`python -m services.query_router`"""

import asyncio

from services.query_router.app import SERVICE, QueryRouter, RouterSettings
from shared.platform.logging import configure_logging

if __name__ == "__main__":
    settings = RouterSettings()
    configure_logging(SERVICE, settings.log_level)
    asyncio.run(QueryRouter(settings).app.run())
