"""`python -m services.protocol_log`"""

import asyncio

from services.protocol_log.app import SERVICE, ProtocolLog, ProtocolSettings
from shared.logging import configure_logging

if __name__ == "__main__":
    settings = ProtocolSettings()
    configure_logging(SERVICE, settings.log_level)
    asyncio.run(ProtocolLog(settings).app.run())
