"""`python -m services.land_gateway`"""

from services.land_gateway.app import SERVICE, GatewaySettings, LandGateway
from shared.platform.logging import configure_logging
from shared.platform.runtime import run

if __name__ == "__main__":
    settings = GatewaySettings()
    configure_logging(SERVICE, settings.log_level)
    run(LandGateway(settings).app.run())
