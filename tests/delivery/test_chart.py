"""The Helm chart, linted and rendered by a real helm binary, every object parsed with
the kubernetes client's models."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from tests.delivery.conftest import (
    CHART,
    KUBE_VERSION,
    SECRETS,
    STACK,
    render,
    run_helm,
    service_names,
)

MODELS = {
    ("v1", "ConfigMap"): "V1ConfigMap",
    ("v1", "Secret"): "V1Secret",
    ("v1", "Service"): "V1Service",
    ("v1", "ServiceAccount"): "V1ServiceAccount",
    ("apps/v1", "Deployment"): "V1Deployment",
    ("policy/v1", "PodDisruptionBudget"): "V1PodDisruptionBudget",
    ("autoscaling/v2", "HorizontalPodAutoscaler"): "V2HorizontalPodAutoscaler",
    ("networking.k8s.io/v1", "NetworkPolicy"): "V1NetworkPolicy",
}
EXTERNAL = CHART / "ci" / "external-values.yaml"


def parse(doc: dict[str, Any]) -> Any:
    """The object as a kubernetes client model (required fields and types checked)."""
    model = MODELS[(doc["apiVersion"], doc["kind"])]
    return client.ApiClient()._ApiClient__deserialize(doc, model)  # type: ignore[attr-defined]


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


@pytest.fixture(scope="module", params=["default", "external"])
def docs(request: pytest.FixtureRequest, helm: str) -> list[dict[str, Any]]:
    args = ["-f", str(EXTERNAL)] if request.param == "external" else []
    return render(helm, CHART, *args)


def test_lint_strict(helm: str) -> None:
    run_helm(helm, "lint", "--strict", str(CHART), "-f", str(SECRETS["transmute"]))
    run_helm(helm, "lint", "--strict", str(CHART), "-f", str(EXTERNAL))


def test_there_is_no_default_password(helm: str) -> None:
    """The chart shipped a documented fixed secret key: an install that forgot to set
    one ran with a password everyone knows. Now it does not install."""
    import subprocess

    result = subprocess.run(
        [helm, "template", "transmute", str(CHART), "--kube-version", KUBE_VERSION],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "there is no default password" in result.stderr
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    stack = yaml.safe_load((STACK / "values.yaml").read_text())
    for creds in (
        *values["objectStore"]["credentials"].values(),
        *stack["transmute"]["objectStore"]["credentials"].values(),
    ):
        assert creds["secretKey"] == ""
    assert stack["minio"]["rootPassword"] == ""


def test_each_role_has_its_own_object_store_credentials(helm: str) -> None:
    docs = render(helm, CHART)
    secrets = by_kind(docs, "Secret")
    keys = {
        name: secret["stringData"]["accessKey"]
        for name, secret in secrets.items()
        if "object-store" in name
    }
    assert keys == {
        "transmute-object-store-gateway": "transmute-gateway",
        "transmute-object-store-jobs": "transmute-jobs",
        "transmute-object-store-converters": "transmute-converters",
    }
    for name, dep in by_kind(docs, "Deployment").items():
        env = {e["name"]: e for e in dep["spec"]["template"]["spec"]["containers"][0]["env"]}
        service = name.removeprefix("transmute-")
        role = service if service in ("gateway", "jobs") else "converters"
        secret = env["TRANSMUTE_S3_SECRET_KEY"]["valueFrom"]["secretKeyRef"]["name"]
        assert secret == f"transmute-object-store-{role}"
        # Only the jobs service manages the bucket (creates it, sets its expiry rule).
        assert env["TRANSMUTE_S3_MANAGE_BUCKET"]["value"] == str(role == "jobs").lower()
    # MinIO's users in the stack read their keys from the very Secrets the chart makes.
    stack = yaml.safe_load((STACK / "values.yaml").read_text())
    users = {u["accessKey"]: u for u in stack["minio"]["users"]}
    assert {u["existingSecret"] for u in users.values()} == set(keys)
    assert {users[keys[s]]["existingSecret"] for s in keys} == set(keys)


def test_every_object_parses(docs: list[dict[str, Any]]) -> None:
    kinds = set()
    for doc in docs:
        kinds.add(doc["kind"])
        if doc["kind"] == "ScaledObject":
            assert doc["apiVersion"] == "keda.sh/v1alpha1"
            continue
        parsed = parse(doc)
        assert parsed.metadata.name == doc["metadata"]["name"]
    assert {"Deployment", "Service", "NetworkPolicy", "PodDisruptionBudget"} <= kinds


def test_a_hardened_workload_per_service(docs: list[dict[str, Any]]) -> None:
    deployments = [parse(d) for d in by_kind(docs, "Deployment").values()]
    names = {
        d.metadata.labels["app.kubernetes.io/name"].removeprefix("transmute-") for d in deployments
    }
    assert names == service_names()
    for dep in deployments:
        pod = dep.spec.template.spec
        assert pod.security_context.run_as_non_root is True
        assert pod.security_context.seccomp_profile.type == "RuntimeDefault"
        assert pod.automount_service_account_token is False
        [container] = pod.containers
        sc = container.security_context
        assert sc.read_only_root_filesystem is True
        assert sc.allow_privilege_escalation is False
        assert sc.capabilities.drop == ["ALL"]
        assert container.liveness_probe and container.readiness_probe
        assert container.resources.requests and container.resources.limits
        assert any(m.mount_path == "/tmp" for m in container.volume_mounts)
        [tmp] = [v for v in pod.volumes if v.name == "tmp"]
        assert tmp.empty_dir is not None
        component = dep.metadata.labels["app.kubernetes.io/component"]
        if component == "gateway":
            assert container.readiness_probe.http_get.path == "/readyz"
        else:
            port = next(p.container_port for p in container.ports if p.name == "grpc")
            assert container.liveness_probe.grpc.port == port


def test_services_accounts_and_pdbs_per_workload(docs: list[dict[str, Any]]) -> None:
    deployments = by_kind(docs, "Deployment")
    for kind in ("Service", "ServiceAccount", "PodDisruptionBudget"):
        assert set(by_kind(docs, kind)) == set(deployments), kind
    for name, dep in deployments.items():
        assert dep["spec"]["template"]["spec"]["serviceAccountName"] == name


def test_autoscaling(docs: list[dict[str, Any]]) -> None:
    hpas = {
        h["spec"]["scaleTargetRef"]["name"]
        for h in by_kind(docs, "HorizontalPodAutoscaler").values()
    }
    assert hpas == {"transmute-gateway", "transmute-jobs"}
    for name in hpas:
        assert "replicas" not in by_kind(docs, "Deployment")[name]["spec"]


def test_keda_only_when_enabled(helm: str) -> None:
    assert not by_kind(render(helm, CHART), "ScaledObject")
    [scaled] = by_kind(render(helm, CHART, "-f", str(EXTERNAL)), "ScaledObject").values()
    [trigger] = scaled["spec"]["triggers"]
    assert trigger["type"] == "nats-jetstream"
    assert trigger["metadata"]["stream"] == "CONVERT"
    assert trigger["metadata"]["consumer"] == "image"
    assert trigger["metadata"]["natsServerMonitoringEndpoint"] == "nats.example.internal:8222"


def test_keda_reaches_nats_by_a_fully_qualified_name(helm: str) -> None:
    # KEDA's operator resolves names from its own namespace, not the release's.
    for extra, expected in [
        ([], "transmute-nats.media.svc.cluster.local:8222"),
        (["--set", "nats.monitoringEndpoint="], "transmute-nats.media.svc.cluster.local:8222"),
        (["--set", "nats.monitoringEndpoint=nats.ops.svc:8222"], "nats.ops.svc:8222"),
    ]:
        docs = render(
            helm,
            CHART,
            "--namespace",
            "media",
            "--set",
            "services.image.keda.enabled=true",
            *extra,
        )
        [scaled] = by_kind(docs, "ScaledObject").values()
        assert scaled["spec"]["triggers"][0]["metadata"]["natsServerMonitoringEndpoint"] == expected


def test_the_jobs_service_reaches_public_webhook_targets_only(docs: list[dict[str, Any]]) -> None:
    policies = [parse(p) for p in by_kind(docs, "NetworkPolicy").values()]
    [jobs] = [p for p in policies if p.metadata.name.endswith("transmute-jobs")]
    webhook_rules = [
        rule
        for rule in jobs.spec.egress
        for peer in rule.to
        if peer.ip_block is not None and peer.ip_block._except
    ]
    [rule] = webhook_rules
    assert {p.port for p in rule.ports} == {80, 443}
    closed = set(rule.to[0].ip_block._except)
    assert {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"} <= closed


def test_network_policies_cover_every_workload(docs: list[dict[str, Any]]) -> None:
    policies = [parse(p) for p in by_kind(docs, "NetworkPolicy").values()]
    deployments = [parse(d) for d in by_kind(docs, "Deployment").values()]
    for dep in deployments:
        labels = dep.spec.template.metadata.labels
        covering = [
            p for p in policies if p.spec.pod_selector.match_labels.items() <= labels.items()
        ]
        assert len(covering) == 1, dep.metadata.name
        [policy] = covering
        assert set(policy.spec.policy_types) == {"Ingress", "Egress"}
        if labels["app.kubernetes.io/component"] != "converter":
            continue
        # Converters reach only DNS, NATS, the object store, the collector, jobs, and
        # the converters they call (pdf and model3d call image).
        name = labels["app.kubernetes.io/name"]
        calls = {"transmute-pdf": ["transmute-image"], "transmute-model3d": ["transmute-image"]}
        calls = calls.get(name, [])
        assert len(policy.spec.egress) == 5 + len(calls)
        ports = {p.port for rule in policy.spec.egress for p in rule.ports}
        object_store = ports - {53, 4222, 4317, 50052, 50061}
        assert object_store in ({9000}, {443})  # in the cluster, or external
        pods = [
            peer.pod_selector.match_labels.get("app.kubernetes.io/name", "")
            for rule in policy.spec.egress
            for peer in rule.to
            if peer.pod_selector and peer.pod_selector.match_labels
        ]
        assert sorted(n for n in pods if n.startswith("transmute-")) == sorted(
            ["transmute-jobs", *calls]
        )
        [ingress] = policy.spec.ingress
        callers = [
            f.pod_selector.match_labels.get("app.kubernetes.io/component")
            or f.pod_selector.match_labels["app.kubernetes.io/name"]
            for f in ingress._from
        ]
        expected = ["gateway"]
        if name == "transmute-image":
            expected += ["transmute-model3d", "transmute-pdf"]
        assert callers == expected, name


def test_configuration_reaches_every_service(docs: list[dict[str, Any]]) -> None:
    [config] = [c for n, c in by_kind(docs, "ConfigMap").items() if n.endswith("-config")]
    data = config["data"]
    assert json.loads(data["TRANSMUTE_CONVERTERS"]) == {
        "image": "transmute-image:50061",
        "audio": "transmute-audio:50062",
        "pdf": "transmute-pdf:50063",
        "model3d": "transmute-model3d:50064",
    }
    assert data["TRANSMUTE_JOBS_ADDRESS"] == "transmute-jobs:50052"
    for dep in by_kind(docs, "Deployment").values():
        container = dep["spec"]["template"]["spec"]["containers"][0]
        assert container["envFrom"][0]["configMapRef"]["name"] == "transmute-config"
        env = {e["name"]: e for e in container["env"]}
        assert env["TRANSMUTE_S3_SECRET_KEY"]["valueFrom"]["secretKeyRef"]["key"] == "secretKey"


def test_external_services_use_existing_secrets(helm: str) -> None:
    docs = render(helm, CHART, "-f", str(EXTERNAL), secrets=False)
    assert by_kind(docs, "Secret") == {}
    [config] = [c for n, c in by_kind(docs, "ConfigMap").items() if n.endswith("-config")]
    assert config["data"]["TRANSMUTE_OBJECT_STORE_URL"] == "s3s://s3.example.com/transmute-prod"
    jobs = by_kind(docs, "Deployment")["transmute-jobs"]["spec"]["template"]["spec"]
    env = {e["name"]: e for e in jobs["containers"][0]["env"]}
    assert (
        env["TRANSMUTE_JOB_STORE_URL"]["valueFrom"]["secretKeyRef"]["name"] == "transmute-mongodb"
    )


def test_dashboards_are_valid_and_their_datasources_provisioned(helm: str) -> None:
    docs = render(helm, CHART)
    maps = by_kind(docs, "ConfigMap")
    dashboards = [m for m in maps.values() if m["metadata"]["labels"].get("grafana_dashboard")]
    assert len(dashboards) == len(list((CHART / "dashboards").glob("*.json"))) >= 2
    [sources] = [m for m in maps.values() if m["metadata"]["labels"].get("grafana_datasource")]
    provisioned = {
        d["uid"] for d in yaml.safe_load(next(iter(sources["data"].values())))["datasources"]
    }
    used: set[str] = set()
    for cm in dashboards:
        [text] = cm["data"].values()
        board = json.loads(text)
        assert board["uid"] and board["title"] and board["panels"]
        for panel in board["panels"]:
            used.add(panel["datasource"]["uid"])
            for target in panel["targets"]:
                used.add(target["datasource"]["uid"])
                assert target.get("expr") or target.get("query")
    assert used <= provisioned
    assert {"transmute-prometheus", "transmute-tempo"} <= used


def test_a_new_converter_needs_only_values(helm: str, tmp_path: Path) -> None:
    extra = tmp_path / "audio.yaml"
    extra.write_text(
        yaml.safe_dump(
            {
                "services": {
                    "audio": {
                        "kind": "converter",
                        "enabled": True,
                        "replicas": 1,
                        "ports": {"grpc": 50062},
                        "resources": {"requests": {"cpu": "1"}, "limits": {"cpu": "2"}},
                    }
                }
            }
        )
    )
    docs = render(helm, CHART, "-f", str(extra))
    assert "transmute-audio" in by_kind(docs, "Deployment")
    assert "transmute-audio" in by_kind(docs, "NetworkPolicy")
    [config] = [c for n, c in by_kind(docs, "ConfigMap").items() if n.endswith("-config")]
    assert json.loads(config["data"]["TRANSMUTE_CONVERTERS"])["audio"] == "transmute-audio:50062"


def test_stack_chart_declares_toggleable_upstream_dependencies() -> None:
    chart = yaml.safe_load((STACK / "Chart.yaml").read_text())
    values = yaml.safe_load((STACK / "values.yaml").read_text())
    deps = {d["name"]: d for d in chart["dependencies"]}
    assert deps["transmute"]["repository"] == "file://../transmute"
    upstream = set(deps) - {"transmute"}
    assert upstream == {
        "nats",
        "minio",
        "mongodb",
        "opentelemetry-collector",
        "tempo",
        "prometheus",
        "grafana",
    }
    for name in upstream:
        assert deps[name]["condition"] == f"{name}.enabled"
        assert deps[name]["repository"].startswith(("https://", "oci://"))
        assert values[name]["enabled"] is True
    assert values["nats"]["config"]["jetstream"]["enabled"] is True


def test_stack_wires_transmute_to_its_dependencies(helm: str, tmp_path: Path) -> None:
    # Upstream charts cannot be fetched here: render the stack with its local dependency
    # only, which still checks how the stack's values reach the transmute chart.
    stack = tmp_path / "transmute-stack"
    shutil.copytree(STACK, stack)
    shutil.copytree(CHART, tmp_path / "transmute")
    chart = yaml.safe_load((stack / "Chart.yaml").read_text())
    chart["dependencies"] = [d for d in chart["dependencies"] if d["name"] == "transmute"]
    (stack / "Chart.yaml").write_text(yaml.safe_dump(chart))
    run_helm(helm, "dependency", "update", str(stack))
    run_helm(helm, "lint", "--strict", str(stack), "-f", str(SECRETS["transmute-stack"]))
    docs = render(helm, stack)
    [config] = [c for n, c in by_kind(docs, "ConfigMap").items() if n.endswith("-config")]
    assert config["data"]["TRANSMUTE_NATS_URL"] == "nats://transmute-nats:4222"
    assert (
        config["data"]["OTEL_EXPORTER_OTLP_ENDPOINT"]
        == "http://transmute-opentelemetry-collector:4317"
    )
    assert set(by_kind(docs, "Deployment")) == {f"transmute-{s}" for s in service_names()}


def test_downloads_presign_for_the_public_object_store_address(helm: str) -> None:
    def config(*extra: str) -> dict[str, str]:
        [cm] = [
            c
            for n, c in by_kind(render(helm, CHART, *extra), "ConfigMap").items()
            if n.endswith("-config")
        ]
        return dict(cm["data"])

    # Unset: no presigned URL on the in-cluster MinIO address; the gateway streams.
    assert "TRANSMUTE_S3_PUBLIC_URL" not in config()
    public = config("--set", "objectStore.publicUrl=https://files.example.com")
    assert public["TRANSMUTE_S3_PUBLIC_URL"] == "https://files.example.com"


def test_a_service_reads_secrets_and_may_reach_named_addresses(helm: str) -> None:
    docs = render(
        helm,
        CHART,
        "--set", "services.pdf.env.TRANSMUTE_AI_URL=https://llm.example.com/v1",
        "--set", "services.pdf.secretEnv.TRANSMUTE_AI_KEY.secret=transmute-ai",
        "--set", "services.pdf.secretEnv.TRANSMUTE_AI_KEY.key=apiKey",
        "--set-json", 'services.pdf.egress=[{"to": [{"ipBlock": {"cidr": "203.0.113.10/32"}}],'
        ' "ports": [{"port": 443, "protocol": "TCP"}]}]',
    )  # fmt: skip
    deployment = parse(by_kind(docs, "Deployment")["transmute-pdf"])
    env = {e.name: e for e in deployment.spec.template.spec.containers[0].env}
    assert env["TRANSMUTE_AI_URL"].value == "https://llm.example.com/v1"
    ref = env["TRANSMUTE_AI_KEY"].value_from.secret_key_ref
    assert (ref.name, ref.key) == ("transmute-ai", "apiKey")
    policies = by_kind(docs, "NetworkPolicy")
    pdf_rules = parse(policies["transmute-pdf"]).spec.egress
    assert any(r.to and r.to[0].ip_block and r.to[0].ip_block.cidr == "203.0.113.10/32"
               for r in pdf_rules)  # fmt: skip
    image_rules = parse(policies["transmute-image"]).spec.egress
    assert not any(r.to and r.to[0].ip_block for r in image_rules)  # only where asked


def test_authentication_is_on_with_keys_from_a_secret(helm: str) -> None:
    docs = render(helm, CHART)
    [config] = [c for n, c in by_kind(docs, "ConfigMap").items() if n.endswith("-config")]
    assert config["data"]["TRANSMUTE_AUTH_ENABLED"] == "true"
    assert json.loads(config["data"]["TRANSMUTE_CORS_ORIGINS"]) == []
    secret = by_kind(docs, "Secret")["transmute-auth"]
    assert secret["stringData"]["signingKey"] == "test-signing-key"
    deployments = by_kind(docs, "Deployment")

    def env_of(name: str) -> dict[str, Any]:
        container = deployments[name]["spec"]["template"]["spec"]["containers"][0]
        return {e["name"]: e for e in container["env"]}

    signing = env_of("transmute-gateway")["TRANSMUTE_SIGNING_KEY"]["valueFrom"]["secretKeyRef"]
    assert (signing["name"], signing["key"]) == ("transmute-auth", "signingKey")
    bootstrap = env_of("transmute-jobs")["TRANSMUTE_BOOTSTRAP_ADMIN_KEY"]["valueFrom"]
    assert bootstrap["secretKeyRef"]["optional"] is True
    assert "TRANSMUTE_SIGNING_KEY" not in env_of("transmute-image")
    # No signing key, no install; auth off needs none.
    values = ["--set", "auth.signingKey="]
    with pytest.raises(AssertionError, match=r"auth\.signingKey"):
        render(helm, CHART, *values)
    off = render(helm, CHART, *values, "--set", "auth.enabled=false")
    assert "transmute-auth" not in by_kind(off, "Secret")
    external = render(helm, CHART, "-f", str(EXTERNAL), secrets=False)
    [config] = [c for n, c in by_kind(external, "ConfigMap").items() if n.endswith("-config")]
    assert config["data"]["TRANSMUTE_OIDC_ISSUER"] == "https://login.example.com/realms/main"
    assert config["data"]["TRANSMUTE_HSTS"] == "true"
