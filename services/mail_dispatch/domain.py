"""What goes out for each event, and with which words: the mails and letters to authorities (seed
000). Pure functions: no I/O and no cryptography; the service renders and sends the plans.

- Account data: the account name by e-mail (with a short introduction and the guide to secure
  mail), the initial password by personal post. An administrator's reset password goes only by
  encrypted S/MIME mail.
- Notices: incomplete application (every defect), refusal at intake, the legal decision (approved
  with conditions, or rejected with the reasons), a refused provisioning.
Every mail is signed; it is encrypted when the recipient's certificate is on file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from shared.contract.events.abruf import Benachrichtigter
from shared.contract.events.account import (
    CredentialPurpose,
    CredentialsIssued,
    Postanschrift,
    ProvisioningRefused,
    Zustellweg,
)
from shared.contract.events.application import (
    ApplicationAccepted,
    ApplicationIncomplete,
    ApplicationRefused,
    Kontakt,
    Zugangsart,
)
from shared.contract.events.cases import CaseContact
from shared.contract.events.manuell import NoticeLetter
from shared.contract.events.portal import RequesterCredentials, RequesterCredentialsV1
from shared.contract.events.review import Entscheidung, ReviewDecided
from shared.law.aufbewahrung import BERLIN

SECRET = "{PASSWORD}"  # where the service puts the opened password, only while rendering
ROLE = {
    Zugangsart.EINFACHE_BEHOERDENAUSKUNFT: "einfache Behördenauskunft (§ 34a BMG)",
    Zugangsart.SICHERHEITSBEHOERDE: "Datenabruf als Sicherheitsbehörde (§ 34a BMG i. V. m. § 34 "
    "Abs. 4 Satz 1 BMG)",
}
UNENCRYPTED_NOTE = (
    "Hinweis: Diese Nachricht ist signiert, aber nicht verschlüsselt, weil für Ihre Adresse kein "
    "S/MIME-Zertifikat hinterlegt ist. Bitte richten Sie eine sichere E-Mail-Adresse ein (siehe "
    "Anleitung)."
)
SECURE_MAIL_GUIDE = """Anleitung: sichere E-Mail (S/MIME)
Für die spätere Rücksetzung Ihres Passworts brauchen Sie eine E-Mail-Adresse, die verschlüsselte
und signierte Nachrichten empfangen und senden kann.
1. Beantragen Sie für Ihre dienstliche Adresse ein S/MIME-Zertifikat bei der Zertifizierungsstelle
   Ihrer Verwaltung.
2. Outlook: Datei > Optionen > Trust Center > Einstellungen für das Trust Center >
   E-Mail-Sicherheit. Wählen Sie dort Ihr Zertifikat und aktivieren Sie „Inhalt und Anlagen für
   ausgehende Nachrichten verschlüsseln“ und „Ausgehenden Nachrichten digitale Signatur
   hinzufügen“. Andere Programme (z. B. Thunderbird) haben gleichwertige Einstellungen.
3. Senden Sie der Verfahrensbetreuung eine signierte Nachricht; damit ist Ihr Zertifikat
   hinterlegt."""


@dataclass(frozen=True)
class MailPlan:
    kind: str
    to: str
    subject: str
    body: str
    encrypt_for: str | None = None  # the recipient's certificate (PEM)
    carries_secret: bool = False  # only allowed when encrypted
    attachments: tuple[str, ...] = ()  # documents the renderer makes: INFORMATIONSBLATT


# the technical security requirements for the retrieval (§ 39 Abs. 1 BMG), as a PDF with every
# approval: the seed's "Informationsblatt"
INFORMATIONSBLATT = "informationsblatt"


OPERATOR = "meldespiegel Verfahrensbetreuung"  # who writes the operator's letters


@dataclass(frozen=True)
class LetterPlan:
    kind: str
    address: Postanschrift
    subject: str
    paragraphs: list[str]
    secret_line: str | None = None  # the line with the password, set in a monospace font
    attachments: tuple[str, ...] = ()  # enclosures the renderer adds as pages
    sender: str = OPERATOR  # the return address above the window, and the footer


@dataclass(frozen=True)
class Plan:
    mails: list[MailPlan] = field(default_factory=list)
    letters: list[LetterPlan] = field(default_factory=list)
    undeliverable: str | None = None  # why nothing can go out


def _greeting(salutation: str | None, surname: str | None) -> str:
    if salutation == "frau" and surname:
        return f"Sehr geehrte Frau {surname},"
    if salutation == "herr" and surname:
        return f"Sehr geehrter Herr {surname},"
    return "Guten Tag,"


def _date(moment: datetime) -> str:
    return moment.strftime("%d.%m.%Y")


def _mail(
    kind: str,
    to: str,
    subject: str,
    lines: list[str],
    cert: str | None,
    carries_secret: bool = False,
    attachments: tuple[str, ...] = (),
) -> MailPlan:
    body = "\n\n".join(lines)
    if cert is None:
        body += "\n\n" + UNENCRYPTED_NOTE
    return MailPlan(kind, to, subject, body + "\n", cert, carries_secret, attachments)


def credentials(event: CredentialsIssued) -> Plan:
    a = event.address
    hello = _greeting(a.salutation, a.surname)
    # provisioning decides how the secret travels; this only words it
    if event.secret_delivery is Zustellweg.SMIME_MAIL:
        if event.smime_certificate_pem is None:
            return Plan(
                undeliverable="the password is to go by encrypted mail, but no certificate is "
                "on file"
            )
        return Plan(
            mails=[
                _mail(
                    "password_reset_mail",
                    event.email,
                    "Melderegisterdatenspiegel: neues Passwort für Ihren Account",
                    [
                        hello,
                        f"das Passwort Ihres Accounts {event.username} wurde zurückgesetzt.",
                        f"Ihr neues Initialpasswort: {SECRET}",
                        f"Es gilt bis {_date(event.password_expires_at)} und muss bei der nächsten "
                        "Anmeldung geändert werden.",
                        "Mit freundlichen Grüßen\nIhre Verfahrensbetreuung",
                    ],
                    event.smime_certificate_pem,
                    carries_secret=True,
                )
            ]
        )
    if event.purpose in RENEWED:
        return renewed_by_letter(event, hello)
    administrator = event.purpose is CredentialPurpose.ADMINISTRATOR_INITIAL
    role = ROLE[event.role]
    intro = [
        "Kurzeinführung",
        "1. Melden Sie sich mit Accountname und Initialpasswort an. Sie werden zur Änderung des "
        "Passworts geführt (mindestens 12 Zeichen aus mindestens drei Zeichenarten).",
        "2. Jeder Abruf braucht Aktenzeichen und Anlass; er ist nur zulässig, soweit Sie die "
        "Daten zur Erfüllung Ihrer Aufgaben kennen müssen (§ 34a Abs. 1 BMG), und wird nach "
        "§ 40 BMG protokolliert.",
        "3. Das Anwendungshandbuch steht im Melderegisterdatenspiegel zum Download bereit.",
    ]
    if administrator:
        intro.insert(
            2,
            "Als Administratorin bzw. Administrator legen Sie danach die Accounts "
            "Ihrer Behörde an und vergeben die Rechte. Für die Einhaltung der "
            "gesetzlichen Vorgaben und den verantwortlichen Umgang mit den Accounts "
            "ist Ihre Behörde verantwortlich (§ 39 BMG).",
        )
    mail = _mail(
        "account_mail",
        event.email,
        f"Ihr Zugang zum Melderegisterdatenspiegel: Account {event.username}",
        [
            hello,
            f"für {a.authority_name} ist Ihr Account im Melderegisterdatenspiegel eingerichtet "
            f"({role}).",
            f"Ihr Accountname: {event.username}",
            "Das Initialpasswort erhalten Sie getrennt per Post an Ihre Dienststelle. Es gilt bis "
            f"{_date(event.password_expires_at)} und muss bei der ersten Anmeldung geändert "
            "werden.",
            "\n".join(intro),
            SECURE_MAIL_GUIDE,
            "Mit freundlichen Grüßen\nIhre Verfahrensbetreuung",
        ],
        event.smime_certificate_pem,
    )
    letter = LetterPlan(
        "password_letter",
        a,
        "Persönlich: Ihr Initialpasswort für den Melderegisterdatenspiegel",
        [
            hello,
            # never the account name: whoever holds the letter alone must not be able to log in
            f"für Ihren Account im Melderegisterdatenspiegel ({role}) bei {a.authority_name} "
            "lautet das Initialpasswort:",
            f"Es gilt bis zum {_date(event.password_expires_at)}. Bei der ersten Anmeldung "
            "werden Sie "
            "zur Änderung des Passworts geführt; danach verliert dieses Schreiben seinen Wert. "
            "Bewahren Sie es bis dahin verschlossen auf und geben Sie das Passwort nicht weiter.",
            "Den Accountnamen haben Sie per E-Mail erhalten.",
            "Mit freundlichen Grüßen\nIhre Verfahrensbetreuung",
        ],
        secret_line=SECRET,
    )
    return Plan(mails=[mail], letters=[letter])


# a new initial password for an account that exists: no introduction again, the letter only,
# and a notice by mail that one is on its way (so a letter the user did not ask for is noticed)
RENEWED = (CredentialPurpose.INITIAL_REISSUED, CredentialPurpose.USER_RESET)


def renewed_by_letter(event: CredentialsIssued, hello: str) -> Plan:
    a = event.address
    why = (
        "das Passwort Ihres Accounts wurde von Ihrer Administration zurückgesetzt"
        if event.purpose is CredentialPurpose.USER_RESET
        else "für Ihren Account wurde ein neues Initialpasswort ausgestellt"
    )
    notice = _mail(
        "password_renewed_mail",
        event.email,
        f"Melderegisterdatenspiegel: neues Initialpasswort für {event.username}",
        [
            hello,
            f"{why}. Es kommt per Post an Ihre Dienststelle; das bisherige Passwort gilt nicht "
            "mehr. Haben Sie das nicht veranlasst, wenden Sie sich an Ihre Administration.",
            "Mit freundlichen Grüßen\nIhre Verfahrensbetreuung",
        ],
        event.smime_certificate_pem,
    )
    letter = LetterPlan(
        "password_letter",
        a,
        "Persönlich: Ihr neues Initialpasswort für den Melderegisterdatenspiegel",
        [
            hello,
            f"{why}. Es lautet:",
            f"Es gilt bis zum {_date(event.password_expires_at)}. Bei der nächsten Anmeldung "
            "werden Sie zur Änderung des Passworts geführt. Bewahren Sie dieses Schreiben bis "
            "dahin verschlossen auf und geben Sie das Passwort nicht weiter.",
            "Mit freundlichen Grüßen\nIhre Verfahrensbetreuung",
        ],
        secret_line=SECRET,
    )
    return Plan(mails=[notice], letters=[letter])


def upgrade_requester_credentials(old: RequesterCredentialsV1) -> RequesterCredentials:
    """An event left on `min.portal.credentials.v1`, in v2's form: the only place the portal's
    former address spelling is still read (it goes with the v1 topic)."""
    a = old.anschrift
    address = Postanschrift(
        salutation=a.anrede.value if a.anrede else None,
        first_name=a.vorname,
        surname=a.familienname,
        authority_name=a.firma,
        street_and_number=a.strasse_hausnummer,
        postcode=a.postleitzahl,
        town=a.ort,
    )
    return RequesterCredentials(**old.model_dump(exclude={"anschrift"}), address=address)


def requester_credentials(event: RequesterCredentials) -> Plan:
    """A requester of the portal: the Kennung by e-mail, the initial password by letter to the
    address the registration gave (never both in one message)."""
    address = event.address
    hello = _greeting(address.salutation, address.surname)
    mail = _mail(
        "portal_account_mail",
        event.email,
        f"Ihre Registrierung im Melderegisterauskunftsportal: Kennung {event.kennung}",
        [
            hello,
            "Ihre Registrierung für einfache Melderegisterauskünfte (§§ 44, 49 BMG) ist "
            "zugelassen.",
            f"Ihre Kennung: {event.kennung}",
            "Das Initialpasswort erhalten Sie getrennt per Post. Es gilt bis "
            f"{_date(event.password_expires_at)} und muss bei der ersten Anmeldung geändert "
            "werden.",
            "Jede Anfrage braucht Ihre Erklärung, die Daten nicht für Werbung oder Adresshandel "
            "zu verwenden, und bei gewerblicher Nutzung den Zweck (§ 44 BMG). Anfragen werden "
            "nach § 3 PortalV protokolliert; Auskünfte sind gebührenpflichtig nach der "
            "Gebührenordnung der auskunftgebenden Meldebehörde.",
            "Mit freundlichen Grüßen\nIhr Melderegisterauskunftsportal",
        ],
        None,
    )
    letter = LetterPlan(
        "portal_password_letter",
        address,
        "Persönlich: Ihr Initialpasswort für das Melderegisterauskunftsportal",
        [
            hello,
            # never the Kennung: whoever holds the letter alone must not be able to log in
            "für Ihre Registrierung im Melderegisterauskunftsportal lautet das Initialpasswort:",
            f"Es gilt bis zum {_date(event.password_expires_at)}. Bei der ersten Anmeldung werden "
            "Sie zur Änderung des Passworts geführt.",
            "Die Kennung haben Sie per E-Mail erhalten.",
            "Mit freundlichen Grüßen\nIhr Melderegisterauskunftsportal",
        ],
        secret_line=SECRET,
    )
    return Plan(mails=[mail], letters=[letter])


def _notice(
    kind: str,
    contact: Kontakt,
    cert: str | None,
    subject: str,
    lines: list[str],
    attachments: tuple[str, ...] = (),
) -> Plan:
    hello = _greeting(contact.salutation, contact.surname)
    closing = "Mit freundlichen Grüßen\nIhre Verfahrensbetreuung"
    if contact.email:
        mail = _mail(
            kind, contact.email, subject, [hello, *lines, closing], cert, False, attachments
        )
        return Plan(mails=[mail])
    address_fields = (
        contact.first_name,
        contact.surname,
        contact.street_and_number,
        contact.postcode,
        contact.town,
    )
    if all(address_fields):
        address = Postanschrift(
            salutation=contact.salutation or "",
            first_name=contact.first_name or "",
            surname=contact.surname or "",
            authority_name=contact.authority_name or "",
            office_name=contact.office_name or "",
            street_and_number=contact.street_and_number or "",
            postcode=contact.postcode or "",
            town=contact.town or "",
        )
        letter = LetterPlan(kind, address, subject, [hello, *lines, closing], None, attachments)
        return Plan(letters=[letter])
    return Plan(undeliverable="the application names neither an e-mail nor a postal address")


def received(event: ApplicationAccepted) -> Plan:
    """The receipt: the application is complete and in legal review, so that the authority hears
    of every step (receipt, decision, account), not only of the last."""
    app = event.application
    return _notice(
        "receipt_notice",
        app.contact(),
        app.administrator.smime_certificate_pem,
        f"Ihr Antrag {app.application_id}: eingegangen",
        [
            f"Ihr Antrag {app.application_id} auf Zugang zum Melderegisterdatenspiegel "
            f"({ROLE[app.access_type]}) ist am {event.accepted_at.astimezone(BERLIN):%d.%m.%Y} "
            "vollständig eingegangen und wird rechtlich geprüft.",
            "Über die Entscheidung erhalten Sie Nachricht; sie wird von der Verfahrensbetreuung "
            "gezeichnet. Bitte geben Sie bei Rückfragen das Aktenzeichen "
            f"{app.application_id} an.",
        ],
    )


def case_contact(event: CaseContact) -> Plan:
    """The data-protection team's mail to an authority about a case, from the template: what the
    evaluation of its retrievals showed (§ 40 Abs. 5 Satz 3 BMG), what the team asks, the case's
    reference for the answer."""
    hello = _greeting(event.salutation, event.surname)
    lines = [
        hello,
        "bei der Auswertung der Protokolle der Abrufe Ihrer Behörde aus dem "
        "Melderegisterdatenspiegel (§ 40 Abs. 5 Satz 3 BMG) ist uns aufgefallen: "
        f"{event.alert_text}",
        event.text,
        "Bitte nehmen Sie innerhalb von 14 Tagen Stellung und geben Sie dabei das Zeichen "
        f"{event.case_id} an.",
        "Mit freundlichen Grüßen\nDatenschutz der Verfahrensbetreuung",
    ]
    subject = f"Melderegisterdatenspiegel: Bitte um Stellungnahme ({event.authority_name})"
    return Plan(
        mails=[_mail("case_contact", event.to, subject, lines, event.smime_certificate_pem)]
    )


def notice_letter(event: NoticeLetter) -> Plan:
    """A registration office's letter that tells a blocked person, or the authority that had the
    block set, of a request (§ 51 Abs. 3, § 34 Abs. 5 BMG), so that the person can be heard
    before anything is answered (§ 51 Abs. 2)."""
    a = event.an
    person = event.empfaenger is Benachrichtigter.BETROFFENE_PERSON
    when = event.noticed_at.astimezone(BERLIN)
    about = (
        "über Sie"
        if person
        else "über eine Person, für die auf Ihre Veranlassung eine Auskunftssperre eingetragen ist,"
    )
    lines = [
        _greeting(a.salutation, a.surname) if person else "Sehr geehrte Damen und Herren,",
        f"am {when:%d.%m.%Y} um {when:%H:%M} Uhr hat {event.anfragende_behoerde} {about} "
        "Auskunft aus dem Melderegister verlangt (Vorgang "
        f"{event.vorgangsnummer}). Wegen der Auskunftssperre (§ 51 BMG) wurde keine Auskunft "
        "erteilt; die anfragende Stelle hat eine Mitteilung erhalten, die nicht erkennen lässt, "
        "ob eine Sperre besteht.",
        "Bevor wir über das Ersuchen entscheiden, hören wir Sie an (§ 51 Abs. 2 BMG): Bitte "
        "teilen Sie uns innerhalb von zwei Wochen mit, ob "
        + ("Ihnen" if person else "der betroffenen Person")
        + " durch eine Auskunft eine Gefahr für Leben, Gesundheit, persönliche Freiheit oder "
        "ähnliche schutzwürdige Interessen erwachsen kann, und geben Sie dabei den Vorgang an.",
        f"Mit freundlichen Grüßen\nIhre Meldebehörde ({event.gemeindeschluessel})",
    ]
    letter = LetterPlan(
        "block_notice_letter",
        a,
        f"Ersuchen um Auskunft aus dem Melderegister (§ 51 Abs. 3 BMG), Vorgang "
        f"{event.vorgangsnummer}",
        lines,
        sender=f"Meldebehörde {event.gemeindeschluessel}",
    )
    return Plan(letters=[letter])


def incomplete(event: ApplicationIncomplete) -> Plan:
    return _notice(
        "incomplete_notice",
        event.contact,
        None,
        f"Ihr Antrag {event.application_id} auf Zugang zum Melderegisterdatenspiegel ist "
        "unvollständig",
        [
            f"Ihr Antrag {event.application_id} kann noch nicht bearbeitet werden. Es fehlt "
            "oder ist fehlerhaft:",
            "\n".join(f"- {d.message}" for d in event.defects),
            "Bitte reichen Sie den vollständigen Antrag, unterschrieben von der Behördenleitung "
            "und mit Dienstsiegel, erneut ein.",
        ],
    )


def refused(event: ApplicationRefused) -> Plan:
    return _notice(
        "refusal_notice",
        event.contact,
        None,
        f"Ihr Antrag {event.application_id} auf Zugang zum Melderegisterdatenspiegel",
        [event.message],
    )


def _signed_by(event: ReviewDecided) -> str:
    """Who signed the decision (§ 37 Abs. 3 VwVfG: the act names the signing person), or that
    nobody did where the rules decided alone."""
    if event.automatic or not event.signatures:
        return (
            "Diese Entscheidung hat das Regelwerk ohne Unterschrift erstellt "
            "(Demonstrationsbetrieb)."
        )
    return (
        f"Gezeichnet am {event.decided_at.astimezone(BERLIN):%d.%m.%Y}: "
        f"{', '.join(event.signatures)}, Verfahrensbetreuung."
    )


def decided(event: ReviewDecided) -> Plan:
    app = event.application
    adm = app.administrator
    contact = app.contact()
    if event.decision is Entscheidung.APPROVED:
        lines = [
            f"Ihr Antrag {event.application_id} auf Zugang zum Melderegisterdatenspiegel "
            f"({ROLE[app.access_type]}) ist bewilligt.",
            event.statement,
            _signed_by(event),
        ]
        if event.conditions:
            lines.append("Auflagen:\n" + "\n".join(f"- {c.text}" for c in event.conditions))
        lines.append(
            "Die Zugangsdaten erhalten Sie gesondert: den Accountnamen per E-Mail, das "
            "Initialpasswort per Post."
        )
        lines.append(
            "Anlage: Informationsblatt mit den technischen Anforderungen an die Sicherheit des "
            "Abrufs (§ 39 Abs. 1 BMG)."
        )
        kind, subject, enclosed = "approval_notice", "bewilligt", (INFORMATIONSBLATT,)
    else:
        lines = [
            f"Ihr Antrag {event.application_id} auf Zugang zum Melderegisterdatenspiegel "
            "wird abgelehnt.",
            event.statement,
            _signed_by(event),
        ]
        kind, subject, enclosed = "rejection_notice", "abgelehnt", ()
    return _notice(
        kind,
        contact,
        adm.smime_certificate_pem,
        f"Ihr Antrag {event.application_id}: {subject}",
        lines,
        enclosed,
    )


def provisioning_refused(event: ProvisioningRefused) -> Plan:
    return Plan(
        mails=[
            _mail(
                "provisioning_refusal_notice",
                event.contact_email,
                f"Ihr Antrag {event.application_id}: Zugang nicht eingerichtet",
                ["Guten Tag,", event.message, "Mit freundlichen Grüßen\nIhre Verfahrensbetreuung"],
                None,
            )
        ]
    )
