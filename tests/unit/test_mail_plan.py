"""What mail_dispatch sends for each event, as pure planning."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from services.mail_dispatch import domain
from services.mail_dispatch.domain import SECRET
from shared.contract.events.account import (
    CredentialPurpose,
    CredentialsIssued,
    Zustellweg,
)
from shared.contract.events.application import (
    ApplicationAccepted,
    ApplicationIncomplete,
    Kontakt,
    Mangel,
    Zugangsart,
)
from shared.contract.events.cases import CaseContact
from shared.contract.events.portal import RequesterCredentials, RequesterCredentialsV1
from tests.factories import ADDRESS, NOW, approval, complete_application


def issued(
    purpose: CredentialPurpose, delivery: Zustellweg, cert: str | None = None
) -> CredentialsIssued:
    return CredentialsIssued(
        tenant_id=str(uuid.uuid4()),
        user_id=str(uuid.uuid4()),
        username="j.weissmueller.4f2a9c",
        purpose=purpose,
        secret_delivery=delivery,
        email="j@example.org",
        smime_certificate_pem=cert,
        address=ADDRESS,
        sealed_secret="x",
        password_expires_at=NOW + timedelta(days=14),
        role=Zugangsart.EINFACHE_BEHOERDENAUSKUNFT,
        issued_at=NOW,
    )


@pytest.mark.parametrize(
    "purpose", [CredentialPurpose.ADMINISTRATOR_INITIAL, CredentialPurpose.USER_INITIAL]
)
def test_account_name_by_mail_password_by_letter_never_together(
    purpose: CredentialPurpose,
) -> None:
    result = domain.credentials(issued(purpose, Zustellweg.LETTER))
    [mail], [letter] = result.mails, result.letters
    assert "j.weissmueller.4f2a9c" in mail.body
    assert SECRET not in mail.body
    assert not mail.carries_secret
    assert letter.secret_line == SECRET
    assert not any("j.weissmueller" in p for p in [letter.subject, *letter.paragraphs])


def test_the_administrator_hears_about_managing_users_a_user_does_not() -> None:
    admin = domain.credentials(issued(CredentialPurpose.ADMINISTRATOR_INITIAL, Zustellweg.LETTER))
    user = domain.credentials(issued(CredentialPurpose.USER_INITIAL, Zustellweg.LETTER))
    assert "legen Sie danach die Accounts" in admin.mails[0].body
    assert "legen Sie danach die Accounts" not in user.mails[0].body


def test_a_secret_by_mail_goes_only_encrypted() -> None:
    no_cert = domain.credentials(
        issued(CredentialPurpose.ADMINISTRATOR_RESET, Zustellweg.SMIME_MAIL)
    )
    assert no_cert.mails == [] and no_cert.letters == []  # noqa: PT018
    assert "no certificate" in (no_cert.undeliverable or "")
    with_cert = domain.credentials(
        issued(CredentialPurpose.ADMINISTRATOR_RESET, Zustellweg.SMIME_MAIL, cert="PEM")
    )
    [mail] = with_cert.mails
    assert mail.carries_secret
    assert mail.encrypt_for == "PEM"
    assert SECRET in mail.body
    assert with_cert.letters == []


def test_unencrypted_mail_says_so() -> None:
    result = domain.credentials(issued(CredentialPurpose.ADMINISTRATOR_INITIAL, Zustellweg.LETTER))
    assert domain.UNENCRYPTED_NOTE in result.mails[0].body
    with_cert = domain.credentials(
        issued(CredentialPurpose.ADMINISTRATOR_INITIAL, Zustellweg.LETTER, cert="PEM")
    )
    assert domain.UNENCRYPTED_NOTE not in with_cert.mails[0].body


def incomplete(contact: Kontakt) -> ApplicationIncomplete:
    return ApplicationIncomplete(
        application_id="A-1",
        contact=contact,
        decided_at=NOW,
        defects=[
            Mangel(
                code="OFFICIAL_SEAL_MISSING",
                field="signature.official_seal",
                message="Das Dienstsiegel fehlt.",
            )
        ],
    )


def test_notice_goes_by_mail_else_by_letter_else_is_undeliverable() -> None:
    by_mail = domain.incomplete(
        incomplete(Kontakt(email="amt@example.org", salutation="herr", surname="Großkopf"))
    )
    assert by_mail.mails[0].body.startswith("Sehr geehrter Herr Großkopf,")
    assert "- Das Dienstsiegel fehlt." in by_mail.mails[0].body
    by_post = domain.incomplete(
        incomplete(
            Kontakt(
                first_name="Kai",
                surname="Østergård",
                street_and_number="Am Markt 1",
                postcode="29221",
                town="Celle",
            )
        )
    )
    assert by_post.mails == []
    assert by_post.letters[0].address.town == "Celle"
    nowhere = domain.incomplete(incomplete(Kontakt(surname="Østergård")))
    assert nowhere.undeliverable


def test_a_letter_left_on_the_v1_topic_is_planned_as_its_v2_form() -> None:
    """`min.portal.credentials.v1` spelled the address in German fields; what is left of it is
    read once, into the one `Postanschrift`, and planned exactly as v2."""
    samples = Path(__file__).resolve().parents[1] / "contract" / "samples"
    old = RequesterCredentialsV1.model_validate_json(
        (samples / "de.meldespiegel.portal.credentials.v1.json").read_text("utf-8")
    )
    new = RequesterCredentials.model_validate_json(
        (samples / "de.meldespiegel.portal.credentials.v2.json").read_text("utf-8")
    )
    upgraded = domain.upgrade_requester_credentials(old)
    assert upgraded.address == new.address
    assert domain.requester_credentials(upgraded) == domain.requester_credentials(new)
    [letter] = domain.requester_credentials(new).letters
    assert (letter.address.authority_name, letter.address.surname) == (
        "Inkasso Nord GmbH",
        "Berger",
    )


@pytest.mark.parametrize(
    "purpose", [CredentialPurpose.INITIAL_REISSUED, CredentialPurpose.USER_RESET]
)
def test_a_new_initial_password_goes_by_letter_with_a_notice_and_no_introduction(
    purpose: CredentialPurpose,
) -> None:
    """Seed 000: the password by letter, never with the account name; the account holder is
    told by mail that one is on its way (so a letter nobody asked for is noticed)."""
    result = domain.credentials(issued(purpose, Zustellweg.LETTER))
    [notice], [letter] = result.mails, result.letters
    assert notice.kind == "password_renewed_mail"
    assert not notice.carries_secret
    assert SECRET not in notice.body
    assert "Kurzeinführung" not in notice.body  # the account exists: no introduction again
    assert "per Post" in notice.body
    assert letter.secret_line == SECRET
    assert "neues Initialpasswort" in letter.subject
    assert not any("j.weissmueller" in p for p in [letter.subject, *letter.paragraphs])


def test_a_users_reset_password_goes_encrypted_where_the_user_has_a_certificate() -> None:
    result = domain.credentials(
        issued(CredentialPurpose.USER_RESET, Zustellweg.SMIME_MAIL, cert="-----BEGIN")
    )
    [mail] = result.mails
    assert (mail.kind, mail.carries_secret, mail.encrypt_for) == (
        "password_reset_mail",
        True,
        "-----BEGIN",
    )
    assert result.letters == []


def test_the_decision_notice_names_who_signed_it_37_abs_3_vwvfg() -> None:
    """§ 37 Abs. 3 VwVfG: the written act shows who signed it; a decision the rules made alone
    (the demonstration setting) says that nobody did."""
    signed = approval(complete_application()).model_copy(
        update={"signatures": ["op-1", "op-2"], "decided_by": "op-1"}
    )
    [notice] = domain.decided(signed).mails
    assert "Gezeichnet am 21.11.2026: op-1, op-2, Verfahrensbetreuung." in notice.body
    automatic = signed.model_copy(update={"signatures": [], "automatic": True})
    [notice] = domain.decided(automatic).mails
    assert "ohne Unterschrift erstellt (Demonstrationsbetrieb)" in notice.body
    assert "Gezeichnet" not in notice.body


def test_the_authority_gets_a_receipt_when_its_application_is_complete() -> None:
    app = complete_application()
    [receipt] = domain.received(ApplicationAccepted(application=app, accepted_at=NOW)).mails
    assert receipt.kind == "receipt_notice"
    assert receipt.subject == f"Ihr Antrag {app.application_id}: eingegangen"
    assert "am 21.11.2026 vollständig eingegangen und wird rechtlich geprüft" in receipt.body
    assert receipt.to == app.administrator.email


def test_the_mail_about_a_case_asks_the_authority_and_names_the_case() -> None:
    """§ 40 Abs. 5 Satz 3 BMG: the evaluation of the log, and the team's request."""
    contact = CaseContact(
        case_id="a3f1c2d4", tenant_id="t", authority_name="Stadt Celle",
        to="leitung@celle.example", salutation="frau", surname="Berger",
        text="Bitte nennen Sie den Anlass.", alert_text="40 Abrufe in einer Nacht.",
        operator_id="dsb-1", at=NOW,
    )  # fmt: skip
    [mail] = domain.case_contact(contact).mails
    assert mail.to == "leitung@celle.example"
    assert mail.body.startswith("Sehr geehrte Frau Berger,")
    assert "§ 40 Abs. 5 Satz 3 BMG) ist uns aufgefallen: 40 Abrufe in einer Nacht." in mail.body
    assert "Bitte nennen Sie den Anlass." in mail.body
    assert "das Zeichen a3f1c2d4 an" in mail.body
    assert mail.encrypt_for is None  # no certificate on file: signed only, with the note
