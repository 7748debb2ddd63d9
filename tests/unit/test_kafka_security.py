"""Settings → the security every Kafka client uses."""

from __future__ import annotations

import pytest
from faststream.security import SASLScram512

from shared.platform.kafka_security import client_options, security
from shared.platform.settings import Settings


def test_plaintext_needs_nothing() -> None:
    assert security(Settings(kafka_security_protocol="PLAINTEXT")) is None
    assert client_options(Settings()) == {}


def test_scram_over_tls_carries_user_password_and_a_tls_context() -> None:
    settings = Settings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="meldespiegel",
        kafka_sasl_password="geheim",
    )
    assert isinstance(security(settings), SASLScram512)
    options = client_options(settings)
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == (
        "meldespiegel",
        "geheim",
    )
    assert options["ssl_context"] is not None


def test_sasl_without_a_user_is_refused_with_the_setting_to_fix() -> None:
    with pytest.raises(ValueError, match="MELDESPIEGEL_KAFKA_SASL_USERNAME"):
        security(Settings(kafka_security_protocol="SASL_PLAINTEXT"))
