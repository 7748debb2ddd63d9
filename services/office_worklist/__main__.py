"""`python -m services.office_worklist`"""

from services.office_worklist.app import SERVICE, OfficeSettings, OfficeWorklist
from shared.platform.logging import configure_logging
from shared.platform.runtime import run

if __name__ == "__main__":
    settings = OfficeSettings()
    configure_logging(SERVICE, settings.log_level)
    run(OfficeWorklist(settings).app.run())
