"""The one list of meldespiegel's processes. The local process list (`deploy/local/Procfile`), the
Docker Compose services (`docker-compose.yml`, from `deploy/compose/docker-compose.in.yml`), the
Kubernetes Deployments (`tools/deployment.py`) and the AsyncAPI document's consumer groups
(`tools/contract.py`) are generated from it, so a process is added or changed here only."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

REGISTER_STATE = "MELDESPIEGEL_REGISTER_STATE"
REGISTER_ART = "MELDESPIEGEL_REGISTER_ART"


@dataclass(frozen=True)
class Process:
    name: str  # in the Procfile and in Compose; Kubernetes spells it with hyphens
    module: str  # `python -m <module>`
    app: str | None = None  # `module:Class` of its ServiceRuntime, for the contract's groups
    env: dict[str, str] = field(default_factory=dict)  # in every deployment
    ports: dict[str, int] = field(default_factory=dict)  # named API ports
    replicas: int = 1  # on Kubernetes
    expose: bool = False  # a Kubernetes Service for the metrics port (the dashboard's page)
    metrics_port: int | None = None  # locally; None: it serves on a port of its own
    member: bool = True  # joins its consumer groups as a static member (MELDESPIEGEL_INSTANCE_ID)
    local_env: dict[str, str] = field(default_factory=dict)  # in the local process list only
    container_env: dict[str, str] = field(default_factory=dict)  # in containers only
    compose_env: dict[str, str] = field(default_factory=dict)  # on a Docker host only
    compose_ports: tuple[str, ...] = ()
    compose_volumes: tuple[str, ...] = ()
    data: dict[str, str] = field(default_factory=dict)  # kept volumes: name -> mount path
    note: str = ""  # the comment above it in Compose

    @property
    def k8s_name(self) -> str:
        return self.name.replace("_", "-")


# the local run's peer: Nordrhein-Westfalen, whose central body and gateway `demo.verbund` plays
LOCAL_PEERS = {
    "05": {
        "namespace": "nrw.",
        "tenant_id": "niedersachsen-bei-nrw",
        "verfahren": "Verbund Niedersachsen",
        "certificate_file": ".local/pki/operators/gateway-05.pem",
    }
}
LOCAL_FEES = {"03": {"eindeutig": 1000, "neutral": 1000}, "09": {"eindeutig": 1000, "neutral": 500}}

PROCESSES = (
    Process("intake", "services.intake", "services.intake.app:Intake", metrics_port=9101),
    Process(
        "legal_review",
        "services.legal_review",
        "services.legal_review.app:LegalReview",
        metrics_port=9102,
    ),
    Process(
        "provisioning",
        "services.provisioning",
        "services.provisioning.app:Provisioning",
        ports={"auth-api": 8081},
        metrics_port=9103,
        container_env={"MELDESPIEGEL_HTTP_HOST": "0.0.0.0"},
        compose_ports=("127.0.0.1:8081:8081",),
    ),
    Process(
        "mail_dispatch",
        "services.mail_dispatch",
        "services.mail_dispatch.app:MailDispatch",
        metrics_port=9104,
        container_env={"MELDESPIEGEL_PRINT_SPOOL_DIR": "/spool"},
        compose_env={
            "MELDESPIEGEL_SMTP_HOST": "mailcatcher",
            "MELDESPIEGEL_SMTP_PORT": "2525",
        },
        compose_volumes=("pki:/pki:ro", "print-spool:/spool"),
        data={"print-spool": "/spool"},  # the letters wait there for the print service
    ),
    Process(
        "query_router",
        "services.query_router",
        "services.query_router.app:QueryRouter",
        replicas=2,
        metrics_port=9105,
    ),
    Process(
        "protocol_log",
        "services.protocol_log",
        "services.protocol_log.app:ProtocolLog",
        ports={"read-api": 8083},
        replicas=2,
        metrics_port=9106,
        container_env={"MELDESPIEGEL_PROTOCOL_API_HOST": "0.0.0.0"},
        compose_ports=("127.0.0.1:8083:8083",),
    ),
    Process(
        "register_ni",
        "services.register_mirror",
        "services.register_mirror.app:RegisterMirror",
        env={REGISTER_STATE: "03"},
        metrics_port=9107,
        note="the operator's own register (Niedersachsen) ...",
    ),
    Process(
        "register_by",
        "services.register_mirror",
        "services.register_mirror.app:RegisterMirror",
        env={REGISTER_STATE: "09"},
        metrics_port=9108,
        note="... and another state's, standing in for its gateway behind the same topics",
    ),
    Process(
        "portal",
        "services.portal",
        "services.portal.app:PortalService",
        ports={"requester-api": 8084},
        metrics_port=9109,
        local_env={
            "MELDESPIEGEL_PORTAL_FEE_SCHEDULE": json.dumps(LOCAL_FEES, separators=(",", ":"))
        },
        container_env={"MELDESPIEGEL_PORTAL_API_HOST": "0.0.0.0"},
        compose_env={"MELDESPIEGEL_PORTAL_FEE_SCHEDULE": "${MELDESPIEGEL_PORTAL_FEE_SCHEDULE:-{}}"},
        compose_ports=("127.0.0.1:8084:8084",),
        note="the portal for simple registry information (§§ 44, 49 BMG); fees per answering "
        "office",
    ),
    Process(
        "melderegister_ni",
        "services.register_mirror",
        "services.register_mirror.app:RegisterMirror",
        env={REGISTER_STATE: "03", REGISTER_ART: "melderegister"},
        metrics_port=9110,
        note="the registration offices' registers of Niedersachsen: the portal's simple registry\n"
        "information goes here, not to the mirror (§ 5 Abs. 1 Satz 4 Nds. AG BMG)",
    ),
    Process(
        "delivery_monitor",
        "services.delivery_monitor",
        "services.delivery_monitor.app:DeliveryMonitor",
        metrics_port=9111,
        # the local run shortens the day, so that the demo's silent office shows within minutes
        local_env={
            "MELDESPIEGEL_DELIVERY_MAX_GAP_HOURS": "0.02",
            "MELDESPIEGEL_DELIVERY_CHECK_SECONDS": "10",
        },
        note="watches the registration offices' daily deliveries (NMeldVO 2022 § 23 Abs. 2)",
    ),
    Process(
        "alert_cases",
        "services.alert_cases",
        "services.alert_cases.app:AlertCases",
        metrics_port=9112,
        note="the data-protection team's cases, opened by evaluation alerts",
    ),
    Process(
        "office_worklist",
        "services.office_worklist",
        "services.office_worklist.app:OfficeWorklist",
        metrics_port=9113,
        note="the registration offices' worklists: retrievals handed over for manual processing\n"
        "(§ 34a Abs. 5 BMG), the clerks' decisions, the notices' letters",
    ),
    Process(
        "land_gateway",
        "services.land_gateway",
        "services.land_gateway.app:LandGateway",
        metrics_port=9114,
        local_env={"MELDESPIEGEL_GATEWAY_PEERS": json.dumps(LOCAL_PEERS, separators=(",", ":"))},
        compose_env={"MELDESPIEGEL_GATEWAY_PEERS": "${MELDESPIEGEL_GATEWAY_PEERS:-{}}"},
        note="the gateway to other states' registers (§ 39 Abs. 3 BMG): their queries in, ours\n"
        "out to the states MELDESPIEGEL_GATEWAY_PEERS names",
    ),
    # the page, /events and /health on the one port
    Process(
        "dashboard",
        "services.dashboard",
        member=False,
        expose=True,
        local_env={"MELDESPIEGEL_DASHBOARD_PORT": "8090"},
        container_env={
            "MELDESPIEGEL_DASHBOARD_HOST": "0.0.0.0",
            "MELDESPIEGEL_DASHBOARD_PORT": "9100",
        },
        compose_ports=("127.0.0.1:8090:9100",),
        note="the operators' live page: queries per minute, latency, reviews, dead letters, alerts",
    ),
)

# what the local run adds around the services: the mail catcher and the demo feeds
LOCAL_EXTRAS = (
    ("mailcatcher", "python -m demo.mailcatcher 2525"),
    ("demo", "python -m demo.feed 5"),
    ("queries", "python -m demo.queries 3"),
    ("portal_demo", "python -m demo.portal 5"),
    ("verbund_demo", "python -m demo.verbund 15"),
    ("gemeinden_demo", "python -m demo.gemeinden"),
    ("datenschutz_demo", "python -m demo.datenschutz"),
)


def _env_words(env: dict[str, str]) -> str:
    def word(value: str) -> str:
        return f"'{value}'" if any(c in value for c in " {}\"'$") else value

    return " ".join(f"{k}={word(v)}" for k, v in env.items())


def procfile() -> str:
    lines = [
        "# The local process list `scripts/run` supervises. Generated by",
        "# `python -m tools.deployment write` from tools/registry.py; do not edit.",
    ]
    extras = dict(LOCAL_EXTRAS)
    lines.append(f"mailcatcher: {extras.pop('mailcatcher')}")
    for p in PROCESSES:
        env: dict[str, str] = {}
        if p.member:
            env["MELDESPIEGEL_INSTANCE_ID"] = p.name
        if p.metrics_port:
            env["MELDESPIEGEL_METRICS_PORT"] = str(p.metrics_port)
        env |= p.env | p.local_env
        lines.append(f"{p.name}: env {_env_words(env)} python -m {p.module}")
    lines += [f"{name}: {command}" for name, command in extras.items()]
    return "\n".join(lines) + "\n"


def _yaml_scalar(value: str) -> str:
    return json.dumps(value, ensure_ascii=False) if value[:1].isdigit() or ":" in value else value


def compose_services() -> str:
    """The service processes' blocks in Compose, on the template's anchors."""
    blocks = []
    for p in PROCESSES:
        lines = [f"  # {line}" for line in p.note.splitlines()]
        lines += [
            f"  {p.name}:",
            "    <<: *service",
            f'    command: ["python", "-m", "{p.module}"]',
            "    environment:",
            "      <<: *environment",
        ]
        if p.member:
            lines.append(f"      MELDESPIEGEL_INSTANCE_ID: {p.name}  # static group membership")
        for k, v in (p.env | p.container_env | p.compose_env).items():
            lines.append(f"      {k}: {_yaml_scalar(v)}")
        if p.compose_volumes:
            lines.append(f"    volumes: [{', '.join(p.compose_volumes)}]")
        if p.compose_ports:
            lines.append(f"    ports: [{', '.join(json.dumps(x) for x in p.compose_ports)}]")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"
