"""`python -m services.legal_review`"""

import asyncio

from services.legal_review.app import SERVICE, LegalReview, ReviewSettings
from shared.platform.logging import configure_logging

if __name__ == "__main__":
    settings = ReviewSettings()
    configure_logging(SERVICE, settings.log_level)
    asyncio.run(LegalReview(settings).app.run())
