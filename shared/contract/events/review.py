"""Legal review of access applications: decisions, manual cases, deadlines, logging commissions."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from shared.contract.events.application import CompleteApplication
from shared.contract.events.base import Event


class Entscheidung(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"


class Begruendung(Event):
    """One reason of a decision, with the provisions it rests on."""

    code: str
    text: str = Field(description="German sentence for the written decision")
    provisions: list[str] = Field(default_factory=list, description='e.g. "§ 34 Abs. 4 Satz 1 BMG"')


class Auflage(Event):
    """A condition the approval comes with; provisioning and the router enforce it."""

    code: str
    text: str


class Datenumfang(StrEnum):
    """The data a tenant may retrieve (§ 34a Abs. 2 BMG)."""

    SATZ_1 = "bmg_34_1_satz_1"  # § 34 Abs. 1 Satz 1 BMG
    SATZ_1_UND_2 = "bmg_34_1_satz_1_und_2"  # plus § 34 Abs. 1 Satz 2 for security authorities


class ReviewDecided(Event):
    """`min.review.decided.v1`: *Zugang ist rechtlich zulässig: Ja / Nein, weil …*"""

    application_id: str
    decision: Entscheidung
    statement: str = Field(description="the written decision, one German paragraph")
    reasons: list[Begruendung]
    conditions: list[Auflage] = Field(default_factory=list)
    data_scope: Datenumfang | None = Field(None, description="only for approvals")
    decided_by: str = Field(
        description='the operator who signed the decision first, or "rules" where the rules '
        "decided alone (`automatic`)"
    )
    decided_at: datetime
    application: CompleteApplication
    signatures: list[str] = Field(
        default_factory=list,
        description="the operators who signed the decision, in order (two under the four-eyes "
        "principle); the decision is an administrative act by their signature",
    )
    automatic: bool = Field(
        False,
        description="decided by the rules without a signature (MELDESPIEGEL_REVIEW_AUTO_SIGN, "
        "for demonstrations: § 35a VwVfG allows it only where a law does)",
    )
    recommendation: Entscheidung | None = Field(
        None, description="what the rules recommended; None where they left it to the operator"
    )


class Unterschriftsstand(StrEnum):
    SIGNATURE = "signature"  # an operator's signature
    COUNTERSIGNATURE = "countersignature"  # a second operator's, under the four-eyes principle


class ReviewPendingManual(Event):
    """`min.review.pending-manual.v1`: a case waits for an operator's signature: the rules'
    recommendation, or a case the rules cannot decide, with what the operator has to establish.
    Published again when the first of two signatures is given."""

    application_id: str
    authority_name: str
    needed: list[Begruendung] = Field(
        description="the recommendation's reasons, or what the operator has to establish"
    )
    pending_since: datetime
    recommendation: Entscheidung | None = Field(
        None, description="the rules' recommendation; None: the rules leave it to the operator"
    )
    proposed: Entscheidung | None = Field(
        None,
        description="the decision a signature as it stands confirms: the recommendation, or "
        "the first signer's under the four-eyes principle",
    )
    statement: str | None = Field(None, description="the proposed decision as it would read")
    awaiting: Unterschriftsstand = Unterschriftsstand.SIGNATURE
    signatures: list[str] = Field(
        default_factory=list, description="the operators who signed so far"
    )


class ManualDecision(Event):
    """`min.review.manual-decision.v1`: an operator signs a decision on a waiting case: the
    recommendation as it stands, or a decision with reasons of the operator's own (the command is
    signed with the operator's key)."""

    application_id: str
    operator_id: str = Field(min_length=1)
    decision: Entscheidung
    reason: str = Field(min_length=1, description="the operator's written reason")


class ManualDecisionRejected(Event):
    """`min.review.decision-rejected.v1`: a manual decision that could not be applied."""

    application_id: str
    operator_id: str
    reason_code: str
    message: str


class LoggingCommissioned(Event):
    """`min.review.logging-commissioned.v1`: a security authority commissioned the operator to log
    its retrievals (Auftragsverarbeitung, § 40 Abs. 3 BMG with Art. 28 DSGVO), recorded by the
    customer representative in parallel to the application."""

    application_id: str
    reference: str = Field(min_length=1, description="the commission's reference number")
    commissioned_at: datetime
    recorded_by: str = Field(min_length=1)


class Mahnstufe(StrEnum):
    REMINDER = "reminder"
    ESCALATION = "escalation"


class ReviewOverdue(Event):
    """`min.review.overdue.v1`: a case has waited past its deadline."""

    application_id: str
    level: Mahnstufe
    waiting_for: str = Field(
        description="signature (a recommendation or a countersignature), manual_decision (a "
        "case the rules left open) or logging_commission"
    )
    pending_since: datetime
    raised_at: datetime
