"""protocol_log's rules, free of I/O: what an entry holds (§ 40 Abs. 1 and 2 BMG), how entries
are chained and verified, who may read them for what,
and the evaluation rules that raise alerts.

Chain: each entry's hash covers its chain, sequence number, content and the previous entry's
hash. Signed checkpoints fix the hash at a position; when expired entries are deleted, a signed
cut records the last deleted hash, so the remaining chain still verifies from there."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import rfc8785

from shared.contract.events.abruf import (
    Ergebnisstatus,
    QueryAnswered,
    QueryRejected,
    QueryRequested,
    Treffer,
)
from shared.contract.events.account import Berechtigung, OperatorRole
from shared.contract.events.application import Zugangsart
from shared.contract.events.portal import PortalAnswered, PortalFetched
from shared.contract.events.protocol import AlertRule, Zweck
from shared.law.aufbewahrung import BERLIN
from shared.law.melderegisterauskunft import AUSKUNFTSDATEN
from shared.platform.tokens import Identity

GENESIS = "0" * 64
OPERATOR_CHAIN = "operator"
PORTAL_CHAIN = "portal"  # PortalV § 3: the portal's log, kept apart from § 40 retrievals
PORTAL_TENANT = "portal"  # how portal entries appear in metrics and read filters


def tenant_chain(tenant_id: str) -> str:
    """A commissioning security authority's entries are kept apart, in a chain of their own."""
    return f"tenant:{tenant_id}"


def chain_for(protokollierung: str, tenant_id: str) -> str | None:
    """Where the entry is kept; None when the authority logs itself (§ 40 Abs. 3 BMG)."""
    if protokollierung == "self":
        return None
    if protokollierung == "commissioned":
        return tenant_chain(tenant_id)
    return OPERATOR_CHAIN


# -- the entry -----------------------------------------------------------------------------


def _anfrage(query: QueryRequested) -> dict[str, Any]:
    a = query.anfragende
    return {
        "tenant_id": query.tenant_id,
        "behoerde": a.behoerde,
        "anschrift": a.anschrift,
        "erreichbarkeit": a.erreichbarkeit,
        "aktenzeichen": a.aktenzeichen,
        "anlass": a.anlass,
        "kennung": a.kennung,
        "verfahren": a.verfahren,
        "suchart": query.suchart.value,
        "gemeindeschluessel": query.gemeindeschluessel,
        "kriterien": query.kriterien.given(),
        "identifikationsmerkmal_verwendet": query.identifikationsmerkmal is not None,
        "phonetisch": query.phonetisch,
        "angeforderte_daten": [d.value for d in query.angeforderte_daten],
        "verzicht_auf_weitere_bearbeitung": query.verzicht_auf_weitere_bearbeitung,
        "zweck": query.zweck.value,
        "angefragt_am": query.requested_at.isoformat(),
    }


def entry_for(event: QueryAnswered | QueryRejected, released_at: datetime) -> dict[str, Any]:
    """The § 40 BMG entry: requesting body, person's Kennung or procedure, query data, data
    retrieved and hits (or results), times of request and release, Aktenzeichen, Anlass, kind of
    answer, Vorgangsnummer. Between the states: the requesting person's Kennung in the other
    state, or the other state's Vorgangsnummer under which its log holds the hits."""
    entry = {"vorgangsnummer": event.vorgangsnummer, **_anfrage(event.query)}
    if event.query.anfragende.fremde_kennung:
        entry["fremde_kennung"] = event.query.anfragende.fremde_kennung
    entry["zugangsart"] = event.zugangsart.value if event.zugangsart else None
    entry["verfahren_verantwortlich"] = event.verfahren_verantwortlich
    entry["freigegeben_am"] = released_at.isoformat()
    if isinstance(event, QueryAnswered):
        r = event.response
        entry |= {
            "land": r.land,
            "ergebnisstatus": r.ergebnisstatus.value if r.ergebnisstatus else None,
            "nichterstellung": r.nichterstellung.model_dump() if r.nichterstellung else None,
            "abgerufene_daten": [d.value for d in r.datenelemente],
            "treffer": [t.model_dump() for t in r.treffer],
            "anzahl": r.anzahl,
        }
        if event.bezugsvorgang:  # a registration office's answer after manual processing
            entry["bezugsvorgang"] = event.bezugsvorgang
        if r.fremder_vorgang:  # answered by another state's register
            entry["fremder_vorgang"] = r.fremder_vorgang
    else:
        entry |= {
            "land": None,
            "ergebnisstatus": None,
            "nichterstellung": event.nichterstellung.model_dump(),
            "abgerufene_daten": [],
            "treffer": [],
            "anzahl": 0,
        }
    return entry


def portal_entry(event: PortalAnswered, released_at: datetime) -> dict[str, Any]:
    """The PortalV § 3 Abs. 1 entry, its seven items by number, and what § 49 Abs. 6 with § 40
    BMG adds (the register and the records the answer drew on)."""
    a = event.anfrage
    r = event.response
    nichterstellung = r.nichterstellung if r else event.nichterstellung
    ergebnisstatus = r.ergebnisstatus if r else None
    return {
        "vorgangsnummer": event.vorgangsnummer,  # Nr. 7
        "kennung": a.kennung,  # Nr. 1
        "registration_id": a.registration_id,
        "anfragedaten": {  # Nr. 2
            "gemeindeschluessel": a.gemeindeschluessel,
            "identifizierung": a.identifizierung.given(),
            "phonetisch": a.phonetisch,
            "verzicht_auf_weitere_bearbeitung": a.verzicht_auf_weitere_bearbeitung,
        },
        "angefragt_am": a.requested_at.isoformat(),  # Nr. 3
        # Nr. 3: released to the requester's mailbox now; forwarded when fetched (`fetch_entry`)
        "freigegeben_am": released_at.isoformat(),
        "gewerblich": a.gewerblich,  # Nr. 4
        "gewerblicher_zweck": a.gewerblicher_zweck.value if a.gewerblicher_zweck else None,
        "zweck_beschreibung": a.zweck_beschreibung,
        "erklaerung_keine_werbung_kein_adresshandel": (  # Nr. 5
            a.erklaerung_keine_werbung_kein_adresshandel
        ),
        "art_der_rueckantwort": {  # Nr. 6
            "ergebnisstatus": ergebnisstatus.value if ergebnisstatus else None,
            "nichterstellung": nichterstellung.model_dump() if nichterstellung else None,
        },
        "land": event.land,
        "an_register_am": event.forwarded_at.isoformat() if event.forwarded_at else None,
        "auskunftsdaten": list(AUSKUNFTSDATEN)
        if ergebnisstatus is Ergebnisstatus.EINDEUTIG
        else [],
        "treffer": [t.model_dump() for t in r.treffer] if r else [],
        "anzahl": r.anzahl if r else 0,
        "zugangsart": None,
    }


def fetch_entry(event: PortalFetched) -> dict[str, Any]:
    """PortalV § 3 Abs. 1 Nr. 3: when the answer was forwarded to the requester, which is when
    the requester fetched it, logged as its own entry after the request's."""
    return {
        "vorgangsnummer": event.vorgangsnummer,  # Nr. 7
        "art": "weiterleitung",
        "kennung": event.kennung,  # Nr. 1
        "weitergeleitet_am": event.weitergeleitet_am.isoformat(),  # Nr. 3
    }


def portal_answer_kind(event: PortalAnswered) -> str:
    r = event.response
    if r is not None and r.ergebnisstatus:
        return r.ergebnisstatus.value
    return "abgelehnt"


def answer_kind(event: QueryAnswered | QueryRejected) -> str:
    """The metrics bucket of a released answer."""
    if isinstance(event, QueryAnswered) and event.response.ergebnisstatus:
        return event.response.ergebnisstatus.value
    return "abgelehnt"


# -- the chain -----------------------------------------------------------------------------


def canonical(entry: dict[str, Any]) -> bytes:
    """The entry as the JSON Canonicalization Scheme (RFC 8785) writes it, so that an auditor
    recomputes the hash with any language's JCS implementation (docs/audit/verify-chain.mjs).
    For what the log holds (strings, integers, booleans, null; ASCII keys) these are the bytes
    the chain was hashed over before, sorted compact UTF-8 JSON: older entries still verify."""
    return rfc8785.dumps(entry)


def entry_hash(chain: str, seq: int, prev_hash: str, entry: dict[str, Any]) -> str:
    """SHA-256, hex, of `chain|seq|prev_hash|` and the canonical entry."""
    material = f"{chain}|{seq}|{prev_hash}|".encode() + canonical(entry)
    return hashlib.sha256(material).hexdigest()


def checkpoint_message(chain: str, seq: int, hash_: str, signed_at: datetime) -> bytes:
    return f"checkpoint|{chain}|{seq}|{hash_}|{signed_at.astimezone(UTC).isoformat()}".encode()


def cut_message(chain: str, seq: int, hash_: str, cut_at: datetime) -> bytes:
    return f"cut|{chain}|{seq}|{hash_}|{cut_at.astimezone(UTC).isoformat()}".encode()


@dataclass(frozen=True)
class StoredEntry:
    seq: int
    prev_hash: str
    entry_hash: str
    entry: dict[str, Any]


@dataclass(frozen=True)
class Signed:
    """A checkpoint or a retention cut: the hash at a position, signed."""

    seq: int
    entry_hash: str
    at: datetime
    signature: bytes


@dataclass(frozen=True)
class Head:
    seq: int
    entry_hash: str


def verify_chain(
    chain: str,
    entries: Sequence[StoredEntry],
    head: Head | None,
    checkpoints: Sequence[Signed],
    cut: Signed | None,
    signature_ok: Callable[[bytes, bytes], bool],
) -> list[str]:
    """Every finding that shows an entry was changed, inserted or removed; [] if none."""
    findings: list[str] = []
    if cut is not None and not signature_ok(
        cut_message(chain, cut.seq, cut.entry_hash, cut.at), cut.signature
    ):
        findings.append(f"{chain}: the retention cut at {cut.seq} is not validly signed")
    expected_seq = cut.seq + 1 if cut else 1
    expected_prev = cut.entry_hash if cut else GENESIS
    by_seq: dict[int, StoredEntry] = {}
    for e in entries:
        if e.seq != expected_seq:
            findings.append(
                f"{chain}: entry {e.seq} found where {expected_seq} was expected "
                f"({'removed' if e.seq > expected_seq else 'inserted'} entries)"
            )
        if e.prev_hash != expected_prev:
            findings.append(f"{chain}: entry {e.seq} does not follow its predecessor")
        actual = entry_hash(chain, e.seq, e.prev_hash, e.entry)
        if actual != e.entry_hash:
            findings.append(f"{chain}: entry {e.seq} was changed after it was written")
        by_seq[e.seq] = e
        expected_seq = e.seq + 1
        expected_prev = e.entry_hash
    first_kept = cut.seq + 1 if cut else 1
    for cp in checkpoints:
        if not signature_ok(checkpoint_message(chain, cp.seq, cp.entry_hash, cp.at), cp.signature):
            findings.append(f"{chain}: checkpoint {cp.seq} is not validly signed")
            continue
        if cp.seq < first_kept:
            continue  # covers entries deleted at the retention deadline
        e = by_seq.get(cp.seq)
        if e is None:
            findings.append(f"{chain}: entry {cp.seq} of a checkpoint is missing")
        elif e.entry_hash != cp.entry_hash:
            findings.append(f"{chain}: entry {cp.seq} differs from its checkpoint")
    last = entries[-1] if entries else None
    if head is not None:
        if last is None and head.seq >= first_kept:
            findings.append(f"{chain}: entries up to {head.seq} are missing")
        elif last is not None and (last.seq != head.seq or last.entry_hash != head.entry_hash):
            findings.append(
                f"{chain}: the last entry is {last.seq}, the chain head says {head.seq}"
            )
    return findings


# -- reading -------------------------------------------------------------------------------


class ReadRefused(PermissionError):
    pass


# § 40 Abs. 5 Satz 3 BMG: the log serves Datenschutzkontrolle, criminal proceedings arising from
# it, the operation of the registers and information to the person concerned, and nothing else;
# which of these an operator account's role serves:
OPERATOR_PURPOSES: dict[OperatorRole, frozenset[Zweck]] = {
    OperatorRole.BETRIEB: frozenset({Zweck.BETRIEBSSICHERUNG, Zweck.AUSKUNFT_BETROFFENE}),
    OperatorRole.DATENSCHUTZ: frozenset(
        {Zweck.DATENSCHUTZKONTROLLE, Zweck.STRAFVERFAHREN, Zweck.AUSKUNFT_BETROFFENE}
    ),
    OperatorRole.REVISION: frozenset({Zweck.DATENSCHUTZKONTROLLE, Zweck.BETRIEBSSICHERUNG}),
    # the supervisory authority inspects for its control and nothing else (PortalV § 4 Nr. 3)
    OperatorRole.AUFSICHT: frozenset({Zweck.DATENSCHUTZKONTROLLE}),
}
# an authority evaluates its own retrievals: its own control, and proceedings arising from it
TENANT_PURPOSES = frozenset({Zweck.DATENSCHUTZKONTROLLE, Zweck.STRAFVERFAHREN})


@dataclass(frozen=True)
class Reader:
    """Who reads, proven by an access token, and what they may see."""

    principal: str  # as the read log names them
    chains: list[str]
    tenant_id: str | None  # a filter the reader cannot widen


def reader_of(identity: Identity, requested_tenant: str | None, purpose: Zweck) -> Reader:
    """The operator's staff read the operator's and the portal's log for the purposes of their
    role; an authority's administrator, or a user it authorised to evaluate, reads only the
    authority's own retrievals: its commissioned chain and its entries in the operator's."""
    if identity.tenant_id is None:
        roles = [r for r in OperatorRole if r.value in identity.roles]
        if not roles:
            raise ReadRefused("the account has no operator role")
        if not any(purpose in OPERATOR_PURPOSES[r] for r in roles):
            raise ReadRefused(
                f"the role {', '.join(r.value for r in roles)} does not read for {purpose.value} "
                "(§ 40 Abs. 5 Satz 3 BMG)"
            )
        return Reader(identity.principal, [OPERATOR_CHAIN, PORTAL_CHAIN], requested_tenant)
    own = identity.tenant_id
    if requested_tenant not in (None, own):
        raise ReadRefused("an authority reads only its own retrievals")
    if not identity.has(Berechtigung.AUSWERTUNG.value):
        raise ReadRefused(
            "only the administrator or a user authorised to evaluate reads the authority's log"
        )
    if purpose not in TENANT_PURPOSES:
        raise ReadRefused(f"an authority does not read its log for {purpose.value}")
    return Reader(identity.principal, [tenant_chain(own), OPERATOR_CHAIN], own)


def may_verify(identity: Identity) -> bool:
    """Checking the chains' integrity is the operator's, and the supervisory authority's."""
    return identity.tenant_id is None and any(r.value in identity.roles for r in OperatorRole)


def for_person_concerned(entry: dict[str, Any], subject: Treffer) -> bool:
    """Information to the person concerned (§ 11 BMG) leaves out security authorities."""
    if entry.get("zugangsart") == Zugangsart.SICHERHEITSBEHOERDE.value:
        return False
    return subject.model_dump() in entry.get("treffer", [])


# -- alerts --------------------------------------------------------------------------------


def pseudonym(key: bytes, *parts: str) -> str:
    return hmac.new(key, "|".join(parts).encode(), hashlib.sha256).hexdigest()[:24]


@dataclass(frozen=True)
class AlertThresholds:
    same_subject: int = 5  # per user and person within 24 hours
    night_burst: int = 20  # per user within 10 minutes between 22 and 6 o'clock
    volume_factor: float = 5.0  # a user's day against their 14-day daily average
    volume_minimum: int = 200


@dataclass(frozen=True)
class AlertFinding:
    rule: AlertRule
    observed: int
    threshold: int
    window: str
    text: str


def is_night(at: datetime) -> bool:
    hour = at.astimezone(BERLIN).hour
    return hour >= 22 or hour < 6


def evaluate(
    t: AlertThresholds,
    same_subject_24h: int,
    night_10min: int,
    today: int,
    daily_average_14d: float,
    at: datetime,
) -> list[AlertFinding]:
    """The rules that fire on the counts after one more retrieval (each at its threshold only,
    so that a rule fires once per window)."""
    found = []
    if same_subject_24h == t.same_subject:
        found.append(
            AlertFinding(
                AlertRule.REPEATED_SUBJECT,
                same_subject_24h,
                t.same_subject,
                "24h",
                "Eine Kennung hat dieselbe Person innerhalb von 24 Stunden wiederholt abgefragt.",
            )
        )
    if is_night(at) and night_10min == t.night_burst:
        found.append(
            AlertFinding(
                AlertRule.NIGHT_BURST,
                night_10min,
                t.night_burst,
                "10min",
                "Eine Kennung hat nachts viele Abrufe in kurzer Zeit gestellt.",
            )
        )
    usual = max(t.volume_minimum, int(t.volume_factor * daily_average_14d))
    if today == usual:
        found.append(
            AlertFinding(
                AlertRule.VOLUME_ABOVE_USUAL,
                today,
                usual,
                "1d",
                "Eine Kennung hat heute weit mehr Abrufe gestellt als üblich.",
            )
        )
    return found


# an evaluation's CSV shows first what identifies a retrieval (`shared.platform.csv_export`)
CSV_COLUMNS_FIRST = ("chain", "seq", "vorgangsnummer", "tenant_id", "kennung", "angefragt_am")
