"""Legal admissibility of access to the Melderegisterdatenspiegel: the law in force today, in one
place. Pure functions, no I/O.

Sources (texts and their history: the project's legal notes):
- BMG (Bundesmeldegesetz) as amended by the 2. BMGÄndG, in force since 1 May 2022:
  § 34 Abs. 1 (data for public bodies, Satz 2 extra data for security authorities), § 34 Abs. 4
  Satz 1 (the 13 security authorities, incl. Nr. 12 Zentralstelle für Sanktionsdurchsetzung),
  § 34 Abs. 6 (fee-free transfer), § 34a (Personensuche and freie Suche in automated retrieval),
  § 39 Abs. 1 (technical and organisational measures of the retrieving body), § 40 Abs. 3
  (security authorities log their own retrievals), §§ 44, 49 (registry information for private
  parties, fee-based).
- BDSG § 2 Abs. 1 bis 3 und 4 Satz 2 (public bodies).
- NMeldVO of 26 April 2022, § 2 (transmissions over the state's secured network), § 26 Abs. 1
  (registration at the Landesbetrieb, also of other states' central bodies that retrieve for
  their bodies). That a body of another state goes through its own state's central body is the
  states' arrangement as the operator's procedure describes it, not a rule of § 26.
- § 39 Abs. 3 BMG (retrieval over the Internet or the Verbindungsnetz des Bundes und der Länder).
- The operator's application procedure (seed 000): one application per role, network access over
  the Landesnetz or DOI, otherwise an individual decision together with the Interior Ministry.
- Art. 28 DSGVO (commissioned processing) for logging done by the operator.
- § 35a VwVfG (in Niedersachsen by § 1 Abs. 1 NVwVfG): an administrative act may be issued fully
  automatically only where a legal provision allows it and there is neither discretion nor a
  margin of appreciation. Neither BMG nor NMeldVO allows it for the approval of access, and the
  review judges the declared measures (§ 39 Abs. 1 BMG). So the rules here only recommend, and a
  named operator signs each decision (`sign`), as the form's "Datum, Ort, Unterschrift" has it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from shared.contract.events.application import (
    SICHERHEITSBEHOERDEN,
    Behoerdenart,
    CompleteApplication,
    Netzzugang,
    Protokollierung,
    Zugangsart,
)
from shared.contract.events.review import Auflage, Begruendung, Datenumfang, Entscheidung
from shared.contract.laender import LAENDER
from shared.law.sicherheit import SICHERHEITSANFORDERUNGEN


class Ergebnis(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    PENDING_MANUAL = "pending_manual"  # the rules leave it to an operator
    WAITING_COMMISSION = "waiting_commission"
    RECOMMENDED = "recommended"  # the rules recommend; an operator signs
    COUNTERSIGN = "countersign"  # signed once; a second operator signs (four-eyes)


DECIDED = (Ergebnis.APPROVED, Ergebnis.REJECTED)


@dataclass(frozen=True)
class Pruefung:
    """The outcome of the rules for one application."""

    result: Ergebnis
    reasons: list[Begruendung]
    conditions: list[Auflage] = field(default_factory=list)
    data_scope: Datenumfang | None = None


def _reason(code: str, text: str, *provisions: str) -> Begruendung:
    return Begruendung(code=code, text=text, provisions=list(provisions))


def missing_measures(declaration: str) -> list[str]:
    """The § 39 Abs. 1 requirements the declared measures do not address."""
    text = declaration.lower()
    return [
        description
        for description, terms in SICHERHEITSANFORDERUNGEN.values()
        if not any(term in text for term in terms)
    ]


def review(
    app: CompleteApplication, *, operator_state: str, commission_reference: str | None
) -> Pruefung:
    """Decides an application by the rules, or says what a person has to decide."""
    kind = app.authority_kind
    security = app.access_type is Zugangsart.SICHERHEITSBEHOERDE

    refusals: list[Begruendung] = []
    if kind is Behoerdenart.PRIVATE_STELLE:
        refusals.append(
            _reason(
                "NOT_A_PUBLIC_BODY",
                "Daten im automatisierten Abruf erhalten nur öffentliche Stellen im Sinne des § 2 "
                "Abs. 1 bis 3 und 4 Satz 2 BDSG. Private Stellen erhalten einfache "
                "Melderegisterauskünfte bei den Meldebehörden oder über zugelassene Portale.",
                "§ 34 Abs. 1 BMG",
                "§ 34a Abs. 1 BMG",
                "§ 2 BDSG",
                "§§ 44, 49 BMG",
            )
        )
    central = kind is Behoerdenart.ZENTRALE_STELLE_LAND
    if central and (app.authority_state not in LAENDER or app.authority_state == operator_state):
        refusals.append(
            _reason(
                "CENTRAL_BODY_OF_OWN_STATE",
                "Als zentrale Stelle eines Landes registriert sich nur die Stelle eines anderen "
                "Landes, die für die abrufberechtigten Stellen ihres Landes abruft; der Antrag "
                "nennt kein anderes Land.",
                "§ 26 Abs. 1 NMeldVO",
                "§ 39 Abs. 3 BMG",
            )
        )
    if app.authority_state and app.authority_state != operator_state and not central:
        refusals.append(
            _reason(
                "OTHER_STATE",
                f"Die Behörde gehört zum Land mit dem Landesschlüssel {app.authority_state}. Sie "
                "registriert sich bei der zentralen Stelle ihres Landes; diese vermittelt "
                "länderübergreifende Abrufe und registriert sich für sie beim Landesbetrieb.",
                "Verfahrensbeschreibung des Betreibers (Vereinbarung der Länder)",
                "§ 26 Abs. 1 NMeldVO",
            )
        )
    if security and kind not in SICHERHEITSBEHOERDEN:
        if central:
            refusals.append(
                _reason(
                    "CENTRAL_BODY_ACCESS",
                    "Eine zentrale Stelle registriert sich für die einfache Behördenauskunft. "
                    "Ob ein einzelner Abruf auch die Daten nach § 34 Abs. 1 Satz 2 BMG umfasst, "
                    "richtet sich nach der abrufenden Stelle, die sie bei jedem Abruf benennt.",
                    "§ 26 Abs. 1 NMeldVO",
                    "§ 34a Abs. 2 BMG",
                )
            )
        elif kind is Behoerdenart.GESETZLICHE_KRANKENKASSE:
            refusals.append(
                _reason(
                    "HEALTH_INSURER_NOT_SECURITY_AUTHORITY",
                    "Gesetzliche Krankenkassen gehören nicht zu den in § 34 Abs. 4 Satz 1 BMG "
                    "genannten Behörden. Sie können sich nur für die einfache Behördenauskunft "
                    "registrieren, und nur zur Erfüllung gesetzlich vorgeschriebener Aufgaben.",
                    "§ 34 Abs. 4 Satz 1 BMG",
                    "§ 34 Abs. 6 BMG",
                    "§ 4 Abs. 1 SGB V",
                )
            )
        else:
            refusals.append(
                _reason(
                    "NOT_A_SECURITY_AUTHORITY",
                    "Den Datenabruf als Sicherheitsbehörde erhalten nur die in § 34 Abs. 4 Satz 1 "
                    "BMG abschließend genannten Behörden; die antragstellende Stelle gehört nicht "
                    "dazu.",
                    "§ 34 Abs. 4 Satz 1 BMG",
                    "§ 34 Abs. 1 Satz 2 BMG",
                )
            )
    gaps = missing_measures(app.compliance_measures)
    if gaps:
        refusals.append(
            _reason(
                "MEASURES_INCOMPLETE",
                "Die Erklärung zu den technischen und organisatorischen Maßnahmen ist "
                "unvollständig. "
                "Es fehlt die Angabe, " + "; ".join(gaps) + ".",
                "§ 39 Abs. 1 BMG",
                "Art. 24, 25, 32 DSGVO",
            )
        )
    if refusals:
        return Pruefung(Ergebnis.REJECTED, refusals)

    manual: list[Begruendung] = []
    if app.network_channel is Netzzugang.SONSTIGER:
        manual.append(
            _reason(
                "NETWORK_INDIVIDUAL_DECISION",
                "Der Zugang soll weder über das Landesnetz noch über das DOI-Netz erfolgen "
                f"(Begründung der Behörde: {app.network_reason}). Darüber wird im Einzelfall im "
                "Benehmen mit dem Innenministerium entschieden.",
                "Verfahrensbeschreibung des Betreibers",
                "§ 39 Abs. 3 BMG",
                "§ 2 NMeldVO",
            )
        )
    if kind is Behoerdenart.SONSTIGE_OEFFENTLICHE_STELLE:
        manual.append(
            _reason(
                "PUBLIC_BODY_TO_VERIFY",
                "Ob die Stelle eine öffentliche Stelle im Sinne des § 2 Abs. 1 bis 3 und 4 Satz 2 "
                "BDSG ist, muss anhand ihrer Rechtsgrundlage geprüft werden.",
                "§ 34 Abs. 1 BMG",
                "§ 2 BDSG",
            )
        )
    if manual:
        return Pruefung(Ergebnis.PENDING_MANUAL, manual)

    return approval_terms(app, commission_reference=commission_reference)


def approval_terms(app: CompleteApplication, *, commission_reference: str | None) -> Pruefung:
    """What an approval grants and demands; waits if commissioned logging is not yet in place.
    Used by the rules and for an operator's approval of a manual case alike."""
    kind = app.authority_kind
    reasons: list[Begruendung] = []
    conditions: list[Auflage] = []
    if app.access_type is Zugangsart.SICHERHEITSBEHOERDE:
        reasons.append(
            _reason(
                "SECURITY_AUTHORITY",
                f"Die Stelle ist eine Behörde nach § 34 Abs. 4 Satz 1 {SICHERHEITSBEHOERDEN[kind]} "
                "BMG und erhält im automatisierten Abruf auch die Daten nach § 34 Abs. 1 Satz 2 "
                "BMG.",
                "§ 34a Abs. 2 BMG",
                "§ 34 Abs. 1 Satz 2 BMG",
                f"§ 34 Abs. 4 Satz 1 {SICHERHEITSBEHOERDEN[kind]} BMG",
            )
        )
        if app.logging_arrangement is Protokollierung.EIGENPROTOKOLLIERUNG:
            conditions.append(
                Auflage(
                    code="SELF_LOGGING",
                    text="Die Behörde protokolliert ihre Abrufe selbst und wertet die Protokolle "
                    "regelmäßig aus (§ 40 Abs. 3 BMG). Ein Abruf ohne Protokollierung ist "
                    "unzulässig.",
                )
            )
        else:
            if commission_reference is None:
                return Pruefung(
                    Ergebnis.WAITING_COMMISSION,
                    [
                        _reason(
                            "LOGGING_COMMISSION_OUTSTANDING",
                            "Die Behörde will ihre Abrufe im Auftrag durch den Betreiber "
                            "protokollieren lassen. Der Auftrag liegt noch nicht vor; ohne "
                            "Protokollierung darf der "
                            "Zugang nicht genutzt werden.",
                            "§ 40 Abs. 3 BMG",
                            "Art. 28 DSGVO",
                        )
                    ],
                )
            conditions.append(
                Auflage(
                    code="COMMISSIONED_LOGGING",
                    text=f"Der Betreiber protokolliert die Abrufe im Auftrag der Behörde (Auftrag "
                    f"{commission_reference}); die Auswertung der Protokolle bleibt Aufgabe "
                    "der Behörde (§ 40 Abs. 3 BMG, Art. 28 DSGVO).",
                )
            )
        scope = Datenumfang.SATZ_1_UND_2
    elif kind is Behoerdenart.ZENTRALE_STELLE_LAND:
        land = LAENDER.get(app.authority_state or "", app.authority_state)
        reasons.append(
            _reason(
                "CENTRAL_BODY_OF_ANOTHER_STATE",
                f"Die Stelle ist die zentrale Stelle des Landes {land} "
                "und ruft für die abrufberechtigten Stellen ihres Landes ab; dafür registriert "
                "sie sich beim Landesbetrieb. Jeder Abruf erhält die Daten, die der abrufenden "
                "Stelle zustehen, die sie benennt: nach § 34 Abs. 1 Satz 1 BMG, einer Behörde "
                "nach § 34 Abs. 4 Satz 1 BMG auch nach Satz 2.",
                "§ 39 Abs. 3 BMG",
                "§ 26 Abs. 1 NMeldVO",
                "§ 34a Abs. 2, 3 BMG",
            )
        )
        conditions.append(
            Auflage(
                code="NAMES_THE_REQUESTING_BODY",
                text="Die zentrale Stelle benennt bei jedem Abruf die abrufende Stelle, ihr "
                "Aktenzeichen, den Anlass und die abrufende Person, und ob die Stelle eine "
                "Behörde nach § 34 Abs. 4 Satz 1 BMG ist. Die Verantwortung für die Zulässigkeit "
                "des einzelnen Abrufs trägt die abrufende Stelle (§ 39 Abs. 4 BMG).",
            )
        )
        scope = Datenumfang.SATZ_1_UND_2
    else:
        reasons.append(
            _reason(
                "PUBLIC_BODY",
                "Die Stelle ist eine öffentliche Stelle und erhält im automatisierten Abruf die "
                "Daten nach § 34 Abs. 1 Satz 1 BMG, soweit sie sie zur Erfüllung ihrer Aufgaben "
                "kennen muss. Der Betreiber protokolliert die Abrufe.",
                "§ 34a Abs. 1, 2 BMG",
                "§ 34 Abs. 1 Satz 1 BMG",
                "§ 40 Abs. 1, 2 BMG",
            )
        )
        scope = Datenumfang.SATZ_1
        if kind is Behoerdenart.GESETZLICHE_KRANKENKASSE:
            conditions.append(
                Auflage(
                    code="STATUTORY_TASKS_ONLY",
                    text="Abrufe sind nur zur Erfüllung gesetzlich vorgeschriebener Aufgaben "
                    "zulässig (gebührenfrei, § 34 Abs. 6 BMG). Für freiwillige Leistungen ist "
                    "die gebührenpflichtige Melderegisterauskunft bei der Meldebehörde zu "
                    "verlangen (§§ 44, 49 BMG).",
                )
            )
    if app.client_certificate_fingerprint:
        conditions.append(
            Auflage(
                code="CLIENT_CERTIFICATE",
                text="Der Zugang ist auf das Clientzertifikat mit dem SHA-256-Fingerabdruck "
                f"{app.client_certificate_fingerprint} beschränkt.",
            )
        )
    return Pruefung(Ergebnis.APPROVED, reasons, conditions, scope)


def recommended(outcome: Pruefung) -> Entscheidung | None:
    """The decision the rules recommend, if they reached one."""
    if outcome.result is Ergebnis.APPROVED:
        return Entscheidung.APPROVED
    if outcome.result is Ergebnis.REJECTED:
        return Entscheidung.REJECTED
    return None


@dataclass(frozen=True)
class Unterschrift:
    """An operator's signature under a decision, with the operator's reason."""

    operator_id: str
    decision: Entscheidung
    reason: str


def manual_decision_refusal(
    application_id: str,
    status: Ergebnis | None,
    signatures: list[Unterschrift] | None = None,
    signing: Unterschrift | None = None,
) -> tuple[str, str] | None:
    """Why an operator's signature cannot be applied to a case in this state, if it cannot:
    operators sign what waits for them, a countersignature is another person's (four-eyes
    principle) and says the same."""
    if status is None:
        return "UNKNOWN_CASE", f"Es gibt keinen Prüffall {application_id}."
    if status in DECIDED:
        return (
            "ALREADY_DECIDED",
            f"Der Antrag {application_id} ist bereits entschieden ({status.value}).",
        )
    if status is Ergebnis.WAITING_COMMISSION:
        return (
            "WAITING_FOR_LOGGING_COMMISSION",
            "Der Antrag wartet auf den Auftrag zur Protokollierung, nicht auf eine manuelle "
            "Entscheidung.",
        )
    if status is Ergebnis.COUNTERSIGN and signatures and signing is not None:
        first = signatures[0]
        if signing.operator_id in {s.operator_id for s in signatures}:
            return (
                "SAME_OPERATOR",
                f"{signing.operator_id} hat bereits unterschrieben; das Vier-Augen-Prinzip "
                "verlangt die Unterschrift einer zweiten Person.",
            )
        if signing.decision is not first.decision:
            return (
                "DISSENT",
                f"Die zweite Unterschrift weicht von der ersten ({first.operator_id}: "
                f"{first.decision.value}) ab; die erste ist zurückgenommen, der Fall wartet auf "
                "eine neue Entscheidung.",
            )
    return None


def signed(
    app: CompleteApplication,
    recommendation: Pruefung | None,
    needed: list[Begruendung],
    signature: Unterschrift,
    commission_reference: str | None,
) -> Pruefung:
    """The decision an operator signed: the recommendation as it stands (the operator's reason
    first), or the operator's own decision on the case."""
    if recommendation is not None and recommended(recommendation) is signature.decision:
        adopted = Begruendung(code="SIGNED_AS_RECOMMENDED", text=signature.reason)
        return Pruefung(
            recommendation.result,
            [adopted, *recommendation.reasons],
            recommendation.conditions,
            recommendation.data_scope,
        )
    return decide_manually(app, needed, signature.decision, signature.reason, commission_reference)


def decide_manually(
    app: CompleteApplication,
    needed: list[Begruendung],
    decision: Entscheidung,
    reason: str,
    commission_reference: str | None,
) -> Pruefung:
    """An operator's decision: the operator's reason first, citing what the case turned on. An
    approval grants what an approval by the rules would, and still waits for commissioned
    logging where that is missing."""
    operator_reason = Begruendung(
        code="MANUAL_DECISION", text=reason, provisions=[p for r in needed for p in r.provisions]
    )
    if decision is Entscheidung.REJECTED:
        return Pruefung(Ergebnis.REJECTED, [operator_reason])
    terms = approval_terms(app, commission_reference=commission_reference)
    return Pruefung(
        terms.result, [operator_reason, *terms.reasons], terms.conditions, terms.data_scope
    )


def statement(decision: Entscheidung, reasons: list[Begruendung]) -> str:
    """The form's line: *Zugang ist rechtlich zulässig: Ja … / Nein, weil …*"""
    grounds = " ".join(r.text for r in reasons)
    provisions = sorted({p for r in reasons for p in r.provisions})
    cited = f" ({'; '.join(provisions)})" if provisions else ""
    if decision is Entscheidung.APPROVED:
        return f"Zugang ist rechtlich zulässig: Ja. {grounds}{cited}"
    return f"Zugang ist rechtlich zulässig: Nein, weil: {grounds}{cited}"
