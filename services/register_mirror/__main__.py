"""`python -m services.register_mirror` (the state from `MELDESPIEGEL_REGISTER_STATE`, the kind of
register from `MELDESPIEGEL_REGISTER_ART`)."""

from services.register_mirror.app import RegisterMirror, RegisterSettings, service_name
from shared.platform.logging import configure_logging
from shared.platform.runtime import run

if __name__ == "__main__":
    settings = RegisterSettings()
    configure_logging(
        service_name(settings.register_state, settings.register_art), settings.log_level
    )
    run(RegisterMirror(settings).app.run())
