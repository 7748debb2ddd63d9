"""`python -m services.mail_dispatch`"""

from services.mail_dispatch.app import SERVICE, MailDispatch, MailSettings
from shared.platform.logging import configure_logging
from shared.platform.runtime import run

if __name__ == "__main__":
    settings = MailSettings()
    configure_logging(SERVICE, settings.log_level)
    run(MailDispatch(settings).app.run())
