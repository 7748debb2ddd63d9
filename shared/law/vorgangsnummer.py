"""The Vorgangsnummer of each retrieval and portal request (§ 40 BMG, PortalV § 2 Nr. 2)."""

from __future__ import annotations

import secrets
from datetime import datetime

_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def vorgangsnummer(operator_state: str, now: datetime, kennzeichen: str = "") -> str:
    """Unique and unguessable (100 random bits); traceable to the requester only through the
    log, which records it with the requester. `kennzeichen` marks the path (P: the portal)."""
    token = "".join(secrets.choice(_ALPHABET) for _ in range(20))
    return f"{operator_state}-{kennzeichen}{now:%Y%m%d}-{token}"
