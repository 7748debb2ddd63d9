"""How every Kafka client of meldespiegel authenticates and encrypts: one place that turns the
settings (`MELDESPIEGEL_KAFKA_SECURITY_PROTOCOL`, `…_SASL_*`, `…_SSL_CAFILE`) into FastStream's
security object and into the keyword arguments of plain aiokafka clients."""

from __future__ import annotations

import ssl
from typing import Any

from faststream.kafka.security import parse_security
from faststream.security import (
    BaseSecurity,
    SASLPlaintext,
    SASLScram256,
    SASLScram512,
)

from shared.platform.settings import Settings

SASL = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}


def security(settings: Settings) -> BaseSecurity | None:
    """FastStream's security for the settings; None for plaintext without authentication."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    use_ssl = protocol.endswith("SSL")
    context = None
    if use_ssl:
        cafile = str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
        context = ssl.create_default_context(cafile=cafile)
    if not protocol.startswith("SASL"):
        return BaseSecurity(ssl_context=context, use_ssl=True)
    if not settings.kafka_sasl_username:
        raise ValueError(f"{protocol} needs MELDESPIEGEL_KAFKA_SASL_USERNAME and …_PASSWORD")
    return SASL[settings.kafka_sasl_mechanism](
        settings.kafka_sasl_username,
        settings.kafka_sasl_password.get_secret_value(),
        ssl_context=context,
        use_ssl=use_ssl,
    )


def client_options(settings: Settings) -> dict[str, Any]:
    """The same, as keyword arguments of AIOKafkaConsumer, …Producer and …AdminClient."""
    return parse_security(security(settings))
