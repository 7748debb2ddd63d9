"""`python -m services.alert_cases`"""

from services.alert_cases.app import SERVICE, AlertCases
from shared.platform.logging import configure_logging
from shared.platform.runtime import run
from shared.platform.settings import get_settings

if __name__ == "__main__":
    settings = get_settings()
    configure_logging(SERVICE, settings.log_level)
    run(AlertCases(settings).app.run())
