"""`python -m services.legal_review`"""

from services.legal_review.app import SERVICE, LegalReview, ReviewSettings
from shared.platform.logging import configure_logging
from shared.platform.runtime import run

if __name__ == "__main__":
    settings = ReviewSettings()
    configure_logging(SERVICE, settings.log_level)
    run(LegalReview(settings).app.run())
