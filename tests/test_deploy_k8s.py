"""The Kubernetes and KServe manifests (docker/k8s/), offline: every one in the kustomization, valid
against the Kubernetes schemas of two releases and KServe's, rendered by kustomize when kubectl is
here, and wired to the images, compose and each other (ports, probes, labels, users, policies)."""

from __future__ import annotations

import copy
import gzip
import json
import shutil
import subprocess

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.deploy_files import GATEWAY_PORT, K8S, SCHEMAS, compose, container_ports, user_id

# Kubernetes releases the manifests must be valid for: an older one still in support, and the newest known.
K8S_VERSIONS = ("1.30", kubernetes_validate.utils.latest_version())


def manifests() -> list[tuple[str, dict]]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    return [(name, doc) for name in kustomization["resources"]
            for doc in yaml.safe_load_all((K8S / name).read_text()) if doc]


def kserve_schema(doc: dict) -> dict | None:
    group, _, version = doc["apiVersion"].rpartition("/")
    if group != "serving.kserve.io":
        return None
    path = SCHEMAS / "kserve" / f"{doc['kind'].lower()}-{group.split('.')[0]}-{version}.json.gz"
    return json.loads(gzip.decompress(path.read_bytes()))


def validate_manifest(doc: dict, version: str) -> None:
    schema = kserve_schema(doc)
    if schema is not None:
        jsonschema.Draft7Validator(schema).validate(doc)
    else:
        kubernetes_validate.validate(doc, version, strict=True)


def containers(doc: dict) -> list[dict]:
    spec = doc.get("spec", {})
    if doc["kind"] == "ServingRuntime":
        return spec["containers"]
    return spec.get("template", {}).get("spec", {}).get("containers", [])


def test_every_manifest_is_in_the_kustomization():
    listed = set(yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_manifests_match_kubernetes_and_kserve_schemas(version):
    kinds = set()
    for name, doc in manifests():
        kinds.add(doc["kind"])
        try:
            validate_manifest(doc, version)
        except (jsonschema.ValidationError, kubernetes_validate.ValidationError) as err:
            pytest.fail(f"{name} {doc['kind']}/{doc['metadata']['name']}: {'.'.join(map(str, err.path))}: "
                        f"{err.message}")
    assert kinds == {"ServingRuntime", "InferenceService", "Deployment", "Service", "HorizontalPodAutoscaler",
                     "PodDisruptionBudget", "NetworkPolicy"}


@pytest.mark.parametrize("kind,path", [("InferenceService", ("spec", "predictor", "minReplica")),
                                       ("ServingRuntime", ("spec", "containers", 0, "imagePullPolicyy")),
                                       ("Deployment", ("spec", "template", "spec", "containers", 0, "readinesProbe"))])
def test_schema_checks_catch_misspelt_keys(kind, path):
    doc = copy.deepcopy(next(doc for _, doc in manifests() if doc["kind"] == kind))
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = 1
    with pytest.raises((jsonschema.ValidationError, kubernetes_validate.ValidationError)):
        validate_manifest(doc, K8S_VERSIONS[-1])


def test_kustomize_renders_the_manifests():
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("no kubectl here: the kustomization is checked by test_every_manifest_is_in_the_kustomization")
    r = subprocess.run([kubectl, "kustomize", str(K8S)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    rendered = [d for d in yaml.safe_load_all(r.stdout) if d]
    assert len(rendered) == len(manifests())
    images = {c["image"] for d in rendered for c in containers(d)}
    assert images == {"bengali-digit-torchserve:1.0", "bengali-digit-gateway:1.0"}


def test_kubernetes_wiring_agrees_with_images_and_each_other():
    docs = {(d["kind"], d["metadata"]["name"]): d for _, d in manifests()}
    ports = container_ports()
    runtime = next(d for (kind, _), d in docs.items() if kind == "ServingRuntime")
    isvc = next(d for (kind, _), d in docs.items() if kind == "InferenceService")
    deployment = docs[("Deployment", "bengali-digit-gateway")]
    stack = compose()["services"]

    # the predictor: our image, our runtime, TorchServe's ports, Prometheus on the metrics port
    model = isvc["spec"]["predictor"]["model"]
    assert model["runtime"] == runtime["metadata"]["name"]
    assert model["modelFormat"]["name"] in {f["name"] for f in runtime["spec"]["supportedModelFormats"]}
    (server,) = runtime["spec"]["containers"]
    assert server["name"] == "kserve-container"
    assert server["image"] == stack["torchserve"]["image"]
    assert [p["containerPort"] for p in server["ports"]] == [ports["inference"]]
    for probe in ("readinessProbe", "livenessProbe"):
        assert server[probe]["httpGet"] == {"path": "/ping", "port": ports["inference"]}
    annotations = isvc["spec"]["predictor"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(ports["metrics"])
    assert runtime["spec"]["annotations"]["prometheus.kserve.io/port"] == str(ports["metrics"])
    assert isvc["metadata"]["annotations"]["serving.kserve.io/enable-prometheus-scraping"] == "false"
    assert isvc["metadata"]["labels"]["networking.kserve.io/visibility"] == "cluster-local"
    assert isvc["spec"]["predictor"]["minReplicas"] <= isvc["spec"]["predictor"]["maxReplicas"]

    # the gateway: our image, its port, probes on /readyz and /healthz, the predictor's Service
    (gateway,) = containers(deployment)
    assert gateway["image"] == stack["gateway"]["image"]
    assert gateway["ports"][0]["containerPort"] == GATEWAY_PORT
    assert gateway["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert gateway["livenessProbe"]["httpGet"]["path"] == "/healthz"
    env = {e["name"]: e.get("value") for e in gateway["env"]}  # the feedback settings come from a Secret
    # KServe names the predictor's Service <name>-predictor, port 80 -> the container's port
    assert env["BDR_TORCHSERVE_URL"] == f"http://{isvc['metadata']['name']}-predictor"
    pod = deployment["spec"]["template"]
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(GATEWAY_PORT)
    labels = pod["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    service = docs[("Service", "bengali-digit-gateway")]
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == gateway["ports"][0]["name"]
    hpa = docs[("HorizontalPodAutoscaler", "bengali-digit-gateway")]
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                             "name": deployment["metadata"]["name"]}
    pdb = docs[("PodDisruptionBudget", "bengali-digit-gateway")]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()

    # requests and limits everywhere (the HPAs scale on CPU against the request); non-root as in the images
    for container in (server, gateway):
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"][kind]), container["name"]
    assert {"cpu", "memory"} <= set(model["resources"]["requests"])
    assert server["securityContext"]["runAsUser"] == user_id("torchserve")
    assert pod["spec"]["securityContext"]["runAsUser"] == user_id("gateway")

    # the NetworkPolicy: the gateway may reach inference, monitoring the metrics, no one management
    policy = next(d for (kind, _), d in docs.items() if kind == "NetworkPolicy")
    assert policy["spec"]["podSelector"]["matchLabels"] == {
        "serving.kserve.io/inferenceservice": isvc["metadata"]["name"]}
    allowed = {p["port"] for rule in policy["spec"]["ingress"] for p in rule["ports"]}
    assert allowed == {ports["inference"], ports["metrics"]}
    gateway_rule = next(r for r in policy["spec"]["ingress"] if r["ports"][0]["port"] == ports["inference"])
    assert gateway_rule["from"][0]["podSelector"]["matchLabels"].items() <= labels.items()
