"""The deployment files checked with the real validators, as a cluster or a Docker host would
read them: `kubectl kustomize` output against Kubernetes' schemas in strict mode, the Strimzi
resources against Strimzi's own CRD schemas (vendored in deploy/schemas), every pod against the
"restricted" Pod Security Standard, docker-compose.yml against the Compose Specification, and the
AsyncAPI document with the AsyncAPI initiative's parser."""

from __future__ import annotations

import json
import shutil
import subprocess
from copy import deepcopy
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from shared.contract.topics import CATALOGUE, NAMESPACE, Topics
from tools.deployment import STRIMZI_API, kafka_user
from tools.registry import PROCESSES

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "deploy" / "schemas"
KUBERNETES_VERSION = "1.32"
PARSER = ROOT / ".local" / "node" / "node_modules" / "@asyncapi" / "parser"


@cache
def rendered() -> list[dict[str, Any]]:
    """What `kubectl apply -k deploy/k8s` would send: kustomize's output (Go's YAML reader and
    writer, which is where an unquoted `09` turns into the number 9)."""
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is part of this machine's image (it has kustomize built in)"
    out = subprocess.run(
        [kubectl, "kustomize", str(ROOT / "deploy" / "k8s")],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def strict(schema: dict[str, Any]) -> dict[str, Any]:
    """A CRD's schema as the API server applies it: a field it does not declare is refused
    (it would be pruned silently), unless the schema keeps unknown fields."""
    schema = deepcopy(schema)

    def close(node: Any) -> None:
        if isinstance(node, dict):
            if (
                "properties" in node
                and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")
            ):
                node["additionalProperties"] = False
            for value in node.values():
                close(value)
        elif isinstance(node, list):
            for value in node:
                close(value)

    close(schema)
    schema["properties"]["metadata"] = {"type": "object"}
    return schema


@cache
def crd_schema(kind: str) -> dict[str, Any]:
    crd = yaml.safe_load((SCHEMAS / f"strimzi-crd-{kind.lower()}.yaml").read_text("utf-8"))
    [version] = [v for v in crd["spec"]["versions"] if v["name"] == STRIMZI_API.split("/")[1]]
    assert version["served"]
    assert version["storage"]
    return strict(version["schema"]["openAPIV3Schema"])


def test_every_resource_validates_against_the_kubernetes_or_strimzi_schema() -> None:
    docs = rendered()
    kinds = {d["kind"] for d in docs}
    assert {"Deployment", "Service", "ConfigMap", "Namespace", "KafkaTopic", "KafkaUser"} <= kinds
    for doc in docs:
        where = f"{doc['kind']} {doc['metadata']['name']}"
        if doc["apiVersion"].startswith("kafka.strimzi.io/"):
            assert doc["apiVersion"] == STRIMZI_API, where
            errors = [
                e.message
                for e in jsonschema.Draft7Validator(crd_schema(doc["kind"])).iter_errors(doc)
            ]
            assert not errors, f"{where}: {errors}"
        else:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_validators_refuse_what_they_should() -> None:
    """The checks above can fail: a number where Kubernetes wants a string, a field Strimzi does
    not know."""
    [by] = [d for d in rendered() if d["metadata"]["name"] == "register-by"]
    broken = deepcopy(by)
    env = broken["spec"]["template"]["spec"]["containers"][0]["env"]
    [state] = [e for e in env if e["name"] == "MELDESPIEGEL_REGISTER_STATE"]
    assert state["value"] == "09"  # quoted in services.yaml, so still a string after kustomize
    state["value"] = 9
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)
    topic = next(d for d in rendered() if d["kind"] == "KafkaTopic")
    unknown = deepcopy(topic)
    unknown["spec"]["replicationFactor"] = 3
    assert list(jsonschema.Draft7Validator(crd_schema("KafkaTopic")).iter_errors(unknown))


def test_topics_are_replicated_three_times_and_need_two_in_sync_replicas() -> None:
    topics = [d for d in rendered() if d["kind"] == "KafkaTopic"]
    assert topics
    for t in topics:
        assert t["spec"]["replicas"] == 3
        assert t["spec"]["config"]["min.insync.replicas"] == "2"


def test_every_process_signs_in_as_its_own_kafka_user_with_its_own_acls() -> None:
    users = {d["metadata"]["name"]: d for d in rendered() if d["kind"] == "KafkaUser"}
    deployments = {d["metadata"]["name"]: d for d in rendered() if d["kind"] == "Deployment"}
    for p in PROCESSES:
        user = users[kafka_user(p)]
        assert user["spec"]["authentication"]["type"] == "scram-sha-512"
        env = deployments[p.k8s_name]["spec"]["template"]["spec"]["containers"][0]["env"]
        named = {e["name"]: e for e in env}
        assert named["MELDESPIEGEL_KAFKA_SASL_USERNAME"]["value"] == kafka_user(p)
        secret = named["MELDESPIEGEL_KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"]
        assert secret == {"name": kafka_user(p), "key": "password"}
    # intake reads the submitted applications in its own group, writes their outcomes
    acls = {
        (a["resource"]["type"], a["resource"]["name"]): a["operations"]
        for a in users["meldespiegel-intake"]["spec"]["authorization"]["acls"]
    }
    assert acls[("group", "intake")] == ["Read", "Describe"]
    assert acls[("topic", Topics.APPLICATION_SUBMITTED.name)] == ["Read", "Describe"]
    assert acls[("topic", Topics.APPLICATION_SUBMITTED.dlq)] == ["Write", "Describe"]
    assert acls[("topic", Topics.APPLICATION_ACCEPTED.name)] == ["Write", "Describe"]
    assert ("topic", Topics.QUERY_REQUESTED.name) not in acls
    # a prefix ACL (the dashboard's, the operators') covers every topic of the catalogue
    assert all(s.name.startswith(NAMESPACE) for s in CATALOGUE)


# the "restricted" profile of the Kubernetes Pod Security Standards (policy version 1.32)
RESTRICTED_VOLUMES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
    "projected", "secret",
}  # fmt: skip


def restricted_violations(pod: dict[str, Any]) -> list[str]:
    found = []
    pod_context = pod.get("securityContext", {})
    if any(pod.get(h) for h in ("hostNetwork", "hostPID", "hostIPC")):
        found.append("host namespaces")
    for volume in pod.get("volumes", []):
        kinds = set(volume) - {"name"}
        if not kinds <= RESTRICTED_VOLUMES:
            found.append(f"volume {volume['name']}: {kinds - RESTRICTED_VOLUMES}")
    for c in pod.get("initContainers", []) + pod["containers"]:
        ctx = c.get("securityContext", {})
        name = c["name"]
        if ctx.get("privileged"):
            found.append(f"{name}: privileged")
        if ctx.get("allowPrivilegeEscalation") is not False:
            found.append(f"{name}: allowPrivilegeEscalation must be false")
        if not (ctx.get("runAsNonRoot") or pod_context.get("runAsNonRoot")):
            found.append(f"{name}: runAsNonRoot")
        if ctx.get("runAsUser", pod_context.get("runAsUser")) == 0:
            found.append(f"{name}: runs as root")
        seccomp = ctx.get("seccompProfile", pod_context.get("seccompProfile", {}))
        if seccomp.get("type") not in ("RuntimeDefault", "Localhost"):
            found.append(f"{name}: seccompProfile RuntimeDefault or Localhost")
        caps = ctx.get("capabilities", {})
        if caps.get("drop") != ["ALL"]:
            found.append(f"{name}: capabilities must drop ALL")
        if set(caps.get("add", [])) - {"NET_BIND_SERVICE"}:
            found.append(f"{name}: adds capabilities")
        if any("hostPort" in port for port in c.get("ports", [])):
            found.append(f"{name}: hostPort")
    return found


def test_every_pod_passes_the_restricted_pod_security_standard() -> None:
    deployments = [d for d in rendered() if d["kind"] == "Deployment"]
    assert len(deployments) == len(PROCESSES)
    for d in deployments:
        assert restricted_violations(d["spec"]["template"]["spec"]) == [], d["metadata"]["name"]
    # and the check finds a violation
    loose = deepcopy(deployments[0]["spec"]["template"]["spec"])
    loose["containers"][0]["securityContext"]["allowPrivilegeEscalation"] = True
    loose["volumes"].append({"name": "host", "hostPath": {"path": "/"}})
    assert len(restricted_violations(loose)) == 2


def test_mail_dispatch_keeps_its_print_spool_and_reads_its_relay_from_the_config() -> None:
    docs = rendered()
    [mail] = [
        d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "mail-dispatch"
    ]
    pod = mail["spec"]["template"]["spec"]
    [spool] = [v for v in pod["volumes"] if v["name"] == "print-spool"]
    claim = spool["persistentVolumeClaim"]["claimName"]
    claims = [d["metadata"]["name"] for d in docs if d["kind"] == "PersistentVolumeClaim"]
    assert claim in claims
    mounts = {m["name"]: m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env["MELDESPIEGEL_PRINT_SPOOL_DIR"] == mounts["print-spool"] == "/spool"
    [config] = [d for d in docs if d["kind"] == "ConfigMap"]
    assert {"MELDESPIEGEL_SMTP_HOST", "MELDESPIEGEL_SMTP_PORT"} <= set(config["data"])
    # the cluster CA the processes check the brokers against is where the pods mount it
    ca = Path(config["data"]["MELDESPIEGEL_KAFKA_SSL_CAFILE"])
    assert str(ca.parent) == mounts["kafka-ca"]
    [ca_volume] = [v for v in pod["volumes"] if v["name"] == "kafka-ca"]
    assert ca_volume["secret"]["secretName"] == "meldespiegel-cluster-ca-cert"
    images = {c["image"] for d in docs if d["kind"] == "Deployment"
              for c in d["spec"]["template"]["spec"]["containers"]}  # fmt: skip
    assert images == {"meldespiegel:latest"}  # the kustomization's `images:` entry applied


def test_the_compose_file_follows_the_compose_specification() -> None:
    """docker-compose.yml and the smoke's overlay (deploy/compose/smoke.yml)."""
    checker = ROOT / ".venv" / "bin" / "check-jsonschema"
    schema = SCHEMAS / "compose-spec.json"
    ok = subprocess.run(
        [checker, "--schemafile", schema, ROOT / "docker-compose.yml",
         ROOT / "deploy" / "compose" / "smoke.yml"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stdout + ok.stderr
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text("utf-8"))
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond this host"
    assert compose["services"]["kafka"]["environment"]["KAFKA_LOG_DIRS"] == "/var/lib/kafka/data"


def test_the_asyncapi_document_passes_the_asyncapi_parser(tmp_path: Path) -> None:
    assert PARSER.is_dir(), "deploy/local/stack.sh up --profile test installs the parser"
    script = tmp_path / "parse.mjs"
    script.write_text(
        f"import {{ Parser }} from {json.dumps(str(PARSER / 'cjs' / 'index.js'))};\n"
        """import { readFileSync } from 'node:fs';
const { document, diagnostics } = await new Parser().parse(readFileSync(process.argv[2], 'utf-8'));
const errors = diagnostics.filter((d) => d.severity === 0);
console.log(JSON.stringify({
  parsed: document !== undefined,
  errors: errors.map((d) => `${d.path.join('.')}: ${d.message}`),
  channels: document ? document.channels().length : 0,
}));
""",
        encoding="utf-8",
    )
    ran = subprocess.run(
        ["node", script, ROOT / "docs" / "asyncapi.json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    result = json.loads(ran.stdout.strip().splitlines()[-1])
    assert result["errors"] == []
    assert result["parsed"]
    assert result["channels"] > 50
