"""Certificate fingerprints as the TLS terminator or a form gives them."""


def normalise_fingerprint(value: str) -> str:
    """SHA-256 fingerprint as 64 lower-case hex digits (colons and spaces removed)."""
    return value.replace(":", "").replace(" ", "").lower()
