"""`python -m services.mail_dispatch`"""

import asyncio

from services.mail_dispatch.app import SERVICE, MailDispatch, MailSettings
from shared.platform.logging import configure_logging

if __name__ == "__main__":
    settings = MailSettings()
    configure_logging(SERVICE, settings.log_level)
    asyncio.run(MailDispatch(settings).app.run())
