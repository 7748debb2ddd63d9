"""`python -m services.delivery_monitor`"""

from services.delivery_monitor.app import SERVICE, DeliveryMonitor, DeliverySettings
from shared.platform.logging import configure_logging
from shared.platform.runtime import run

if __name__ == "__main__":
    settings = DeliverySettings()
    configure_logging(SERVICE, settings.log_level)
    run(DeliveryMonitor(settings).app.run())
