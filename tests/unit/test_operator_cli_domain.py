"""The operator CLI's pure part: timelines, open reviews, tenant states, dead-letter redrives,
lag, exports, and reading application files."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiokafka.partitioner import DefaultPartitioner

from operator_cli import domain
from operator_cli.domain import InputError, Ref
from shared.contract.topics import Topics
from shared.platform.kafka_client import Record, partition_for
from tests.helpers import application

T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


def record(
    topic: str, body: dict[str, Any], minute: int, *, key: str = "A-1", **headers: str
) -> Record:
    at = (T0 + timedelta(minutes=minute)).isoformat()
    return Record(
        topic,
        0,
        minute,
        key,
        json.dumps(body).encode(),
        {"ce_id": f"e{minute}", "ce_time": at, **headers},
        0,
    )


def test_partition_for_is_kafkas_default_partitioner() -> None:
    partitioner = DefaultPartitioner()
    for key in ("A-1", "CLI-OK-xyz", "03-20261121-ab", "Größmann"):
        assert partition_for(key, 6) == partitioner(key.encode(), list(range(6)), [])


def test_timeline_in_time_order_each_event_once_failures_marked() -> None:
    steps = domain.zeitleiste(
        [
            record(Topics.REVIEW_DECIDED.name, {"decision": "rejected", "decided_by": "rules"}, 3),
            record(Topics.APPLICATION_SUBMITTED.name, {"application_id": "A-1"}, 1),
            record(Topics.APPLICATION_ACCEPTED.name, {"application": {"application_id": "A-1"}}, 2),
            record(Topics.APPLICATION_SUBMITTED.name, {"application_id": "A-1"}, 1),  # redelivered
        ]
    )
    assert [s.topic for s in steps] == [
        Topics.APPLICATION_SUBMITTED.name,
        Topics.APPLICATION_ACCEPTED.name,
        Topics.REVIEW_DECIDED.name,
    ]
    assert [s.fehler for s in steps] == [False, False, True]
    assert steps[2].was.startswith("rejected, by the rules, unsigned")


@pytest.mark.parametrize(
    ("topic", "body", "stand", "done"),
    [
        (Topics.APPLICATION_SUBMITTED.name, {}, "submitted, not yet checked", False),
        (Topics.APPLICATION_INCOMPLETE.name, {"defects": [{"code": "X"}]}, "incomplete", True),
        (Topics.REVIEW_PENDING_MANUAL.name, {"needed": []}, "waiting for an operator's", True),
        (Topics.REVIEW_DECIDED.name, {"decision": "approved"}, "approved; provisioning", False),
        (Topics.REVIEW_DECIDED.name, {"decision": "rejected"}, "rejected after legal review", True),
        (Topics.ACCOUNT_PROVISIONED.name, {}, "approved; tenant and administrator", True),
        (Topics.APPLICATION_SUBMITTED.dlq, {}, "dead-lettered", True),
    ],
)
def test_where_an_application_stands_and_whether_following_can_stop(
    topic: str, body: dict[str, Any], stand: str, done: bool
) -> None:
    events = [record(Topics.APPLICATION_SUBMITTED.name, {}, 0), record(topic, body, 5)]
    assert domain.stand(events).startswith(stand)
    assert domain.abgeschlossen(events) is done


def test_open_reviews_leave_out_decided_cases_and_mark_overdue_ones() -> None:
    def pending(app_id: str, minute: int, **more: Any) -> Record:
        body = {
            "application_id": app_id,
            "authority_name": f"Behörde {app_id}",
            "needed": [{"code": "NETWORK_INDIVIDUAL_DECISION"}],
            "pending_since": (T0 + timedelta(minutes=minute)).isoformat(),
            **more,
        }
        return record(Topics.REVIEW_PENDING_MANUAL.name, body, minute, key=app_id)

    cases = domain.offene_pruefungen(
        [pending("B", 2), pending("A", 1), pending("C", 3)],
        [record(Topics.REVIEW_DECIDED.name, {"application_id": "C"}, 9, key="C")],
        [record(Topics.REVIEW_OVERDUE.name, {"application_id": "B", "level": "reminder"}, 8)],
    )
    assert [(c.application_id, c.overdue) for c in cases] == [("A", None), ("B", "reminder")]
    assert cases[0].needed == ["NETWORK_INDIVIDUAL_DECISION"]
    # signed once under the four-eyes principle: the newest state, waiting since it first did
    countersign = pending(
        "A", 7, recommendation="approved", proposed="approved", signatures=["op-1"]
    )
    [case, _] = domain.offene_pruefungen([pending("A", 1), pending("B", 2), countersign], [])
    assert (case.application_id, case.signatures, case.proposed) == ("A", ["op-1"], "approved")
    assert case.pending_since == T0 + timedelta(minutes=1)


def test_newest_tenant_state_is_the_highest_version() -> None:
    states = domain.neueste_staende(
        [
            record(
                Topics.TENANT_STATE.name,
                {"tenant_id": "t", "version": 2, "status": "restricted"},
                1,
            ),
            record(
                Topics.TENANT_STATE.name, {"tenant_id": "t", "version": 1, "status": "active"}, 2
            ),
            record(
                Topics.TENANT_STATE.name, {"tenant_id": "u", "version": 1, "status": "active"}, 3
            ),
        ]
    )
    assert states["t"]["status"] == "restricted"
    assert set(states) == {"t", "u"}


def test_dead_letter_references_parse_and_refuse_what_is_not_one() -> None:
    ref = Ref.parse("min.application.submitted.v1.dlq/2/17")
    assert (ref.topic, ref.partition, ref.offset) == ("min.application.submitted.v1.dlq", 2, 17)
    assert str(ref) == "min.application.submitted.v1.dlq/2/17"
    for bad in ("min.application.submitted.v1/2/17", "x.dlq/2", "x.dlq/a/1", ""):
        with pytest.raises(InputError):
            Ref.parse(bad)


def test_a_redrive_keeps_bytes_key_and_event_id_and_drops_the_error_headers() -> None:
    letter = Record(
        Topics.APPLICATION_SUBMITTED.dlq,
        1,
        4,
        "A-1",
        b"{broken",
        {
            "ce_id": "e-1",
            "ce_type": Topics.APPLICATION_SUBMITTED.event_type,
            "correlation_id": "c-1",
            "dlq_error_type": "UndecodableEvent",
            "dlq_error": "not JSON",
            "dlq_original_topic": Topics.APPLICATION_SUBMITTED.name,
            "dlq_original_partition": "1",
            "dlq_original_offset": "99",
            "dlq_service": "intake",
            "dlq_failed_at": T0.isoformat(),
        },
        0,
    )
    plan = domain.redrive_of(letter, "op-1", T0)
    assert (plan.topic, plan.key, plan.value) == (
        Topics.APPLICATION_SUBMITTED.name,
        "A-1",
        b"{broken",
    )
    assert plan.headers["ce_id"] == "e-1"
    assert plan.headers["correlation_id"] == "c-1"
    assert plan.headers["redriven_from"] == f"{Topics.APPLICATION_SUBMITTED.dlq}/1/4"
    assert plan.headers["redriven_by"] == "op-1"
    assert not [h for h in plan.headers if h.startswith("dlq_")]
    nameless = Record(letter.topic, 1, 5, "A-1", b"", {"ce_id": "e-2"}, 0)
    with pytest.raises(InputError, match="names no original topic"):
        domain.redrive_of(nameless, "op-1", T0)


def test_redriven_dead_letters_are_known_by_reference() -> None:
    audit = [
        record(Topics.OPERATOR_REDRIVEN.name, {"dead_letter": "x.dlq/0/1", "operator": "a"}, 1),
        record(Topics.OPERATOR_REDRIVEN.name, {"dead_letter": "x.dlq/0/2", "operator": "b"}, 2),
    ]
    assert set(domain.zurueckgegeben(audit)) == {"x.dlq/0/1", "x.dlq/0/2"}


def test_lag_per_topic_sums_partitions_and_ignores_unknown_ones() -> None:
    committed = {("a", 0): 5, ("a", 1): 10, ("b", 0): 3, ("c", 0): 1, ("a", 2): -1}
    ends = {("a", 0): 7, ("a", 1): 10, ("b", 0): 3, ("a", 2): 4}
    assert domain.lag_per_topic(committed, ends) == {"a": 2, "b": 0}


def test_application_files_in_json_and_yaml_and_what_is_refused(tmp_path: Path) -> None:
    body = application("A-2026-1")
    assert domain.load_application(Path("a.json"), json.dumps(body))["application_id"] == "A-2026-1"
    loaded = domain.load_application(Path("a.yaml"), yaml.safe_dump(body))
    assert loaded["signature"]["signed_on"] == "2026-10-28"  # dates stay text, as upstream sends
    with pytest.raises(InputError, match="not valid JSON"):
        domain.load_application(Path("a.json"), "{")
    with pytest.raises(InputError, match="one application object"):
        domain.load_application(Path("a.json"), "[1, 2]")
    with pytest.raises(InputError, match="application_id"):
        domain.load_application(Path("a.json"), json.dumps({**body, "application_id": "no way!"}))


def test_a_client_properties_file_as_kafkas_own_tools_read_it() -> None:
    java = domain.client_properties(
        "# the operators' client\n"
        "! also a comment\n"
        "bootstrap.servers=broker-1:9093,broker-2:9093\n"
        "security.protocol = SASL_SSL\n"
        "sasl.mechanism: SCRAM-SHA-512\n"
        "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
        'username="ops" password="p\\"ss=w;rd";\n'
        "ssl.ca.location=/etc/meldespiegel/ca.pem\n"
    )
    assert java == {
        "kafka_bootstrap": "broker-1:9093,broker-2:9093",
        "kafka_security_protocol": "SASL_SSL",
        "kafka_sasl_mechanism": "SCRAM-SHA-512",
        "kafka_sasl_username": "ops",
        "kafka_sasl_password": 'p"ss=w;rd',
        "kafka_ssl_cafile": "/etc/meldespiegel/ca.pem",
    }
    kcat = domain.client_properties("sasl.mechanisms=PLAIN\nsasl.username=u\nsasl.password=p\n")
    assert kcat == {
        "kafka_sasl_mechanism": "PLAIN",
        "kafka_sasl_username": "u",
        "kafka_sasl_password": "p",
    }


def test_a_client_property_that_cannot_be_honoured_is_an_error() -> None:
    with pytest.raises(InputError, match=r"line 2: ssl\.truststore\.location is not supported"):
        domain.client_properties("security.protocol=SSL\nssl.truststore.location=/x.jks\n")
    with pytest.raises(InputError, match="line 1: expected key=value"):
        domain.client_properties("bootstrap.servers\n")
    with pytest.raises(InputError, match="without username and password"):
        domain.client_properties('sasl.jaas.config=x required username="u";\n')


def test_an_offices_log_and_alerts_in_time_order_other_shapes_skipped() -> None:
    logged = {
        "delivery_id": "L-1", "art": "aenderung", "teil": 1, "teile": 1,
        "anzahl_datensaetze": 3, "anzahl_entfernt": 1, "status": "applied",
        "empfangen_am": (T0 + timedelta(minutes=1)).isoformat(),
    }  # fmt: skip
    refused = logged | {"delivery_id": "L-0", "status": "rejected", "grund": "Schema verletzt",
                        "empfangen_am": T0.isoformat()}  # fmt: skip
    alert = {"kind": "ausgeblieben", "detail": "seit 27 Stunden nichts",
             "raised_at": (T0 + timedelta(minutes=2)).isoformat()}  # fmt: skip
    rows = domain.lieferprotokoll(
        [
            record(Topics.REGISTER_DELIVERY_ALERTS.name, alert, 3),
            record(Topics.REGISTER_DELIVERY_LOG.name, logged, 2),
            record(Topics.REGISTER_DELIVERY_LOG.name, refused, 1),
            record(Topics.REGISTER_DELIVERY_LOG.name, {"art": "aenderung"}, 4),  # no shape
        ]
    )
    assert [(r.what, r.status, r.detail) for r in rows] == [
        ("aenderung 1/1", "rejected", "Schema verletzt"),
        ("aenderung 1/1", "applied", "L-1"),
        ("alert: ausgeblieben", "alert", "seit 27 Stunden nichts"),
    ]
    assert (rows[1].records, rows[1].removed, rows[2].records) == (3, 1, None)


def test_each_case_as_its_newest_state_says() -> None:
    def state(status: str, steps: list[str], minute: int) -> Record:
        body = {
            "case_id": "F-1", "tenant_id": "t", "authority_name": "Stadt Celle",
            "alert": {"rule": "night_burst", "text": "40 Abrufe nachts"}, "status": status,
            "steps": [{"action": a, "operator_id": "dsb-1"} for a in steps],
            "opened_at": T0.isoformat(),
        }  # fmt: skip
        return record(Topics.CASE_STATE.name, body, minute, key="F-1")

    broken = record(Topics.CASE_STATE.name, {"case_id": "F-1", "status": "closed"}, 3)
    taken = state("acknowledged", ["acknowledge"], 2)
    [case] = domain.faelle([state("open", [], 1), taken, broken])
    assert (case.status, case.steps) == ("acknowledged", ["acknowledge (dsb-1)"])


SAMPLES = Path(__file__).parents[1] / "contract" / "samples"


def test_notices_say_which_letter_went_out_and_never_an_address_51_abs_3() -> None:
    """§ 51 Abs. 3, § 34 Abs. 5 BMG: every notice listed; those without a letter are for the
    office to send by hand."""
    notice = json.loads((SAMPLES / "de.meldespiegel.register.block-notice.v1.json").read_text())
    letter = json.loads((SAMPLES / "de.meldespiegel.office.notice-letter.v1.json").read_text())
    to_authority = notice | {"empfaenger": "veranlassende_behoerde", "anschrift": None}
    other_office = notice | {"gemeindeschluessel": "03101000"}
    listed = domain.mitteilungen(
        [record(Topics.REGISTER_BLOCK_NOTICE.name, n, i)
         for i, n in enumerate((notice, to_authority, notice, other_office))],
        [record(Topics.OFFICE_NOTICE_LETTER.name, letter, 9)],
        notice["gemeindeschluessel"],
    )  # fmt: skip
    assert [(n.empfaenger, n.letter) for n in listed] == [
        ("betroffene_person", True),
        ("veranlassende_behoerde", False),
    ]
    assert "anschrift" not in domain.Mitteilung.__dataclass_fields__
