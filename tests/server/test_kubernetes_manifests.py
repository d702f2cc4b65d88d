"""The Kubernetes manifests (deploy/kubernetes/) are valid for the API and agree with each other
and with the settings the product reads."""
from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.support.paths import REPO

KUBERNETES = REPO / "deploy" / "kubernetes"
API_VERSION = "1.30"  # the oldest Kubernetes release the manifests are written for
NOT_SETTINGS = {"POD_IP"}  # read by the manifests themselves (downward API)


def _documents() -> list[dict[str, Any]]:
    return [doc for path in sorted(KUBERNETES.glob("*.yaml"))
            for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


DOCUMENTS = _documents()


def _of_kind(kind: str) -> list[dict[str, Any]]:
    return [d for d in DOCUMENTS if d["kind"] == kind]


@pytest.mark.parametrize("doc", DOCUMENTS, ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_each_manifest_is_valid_for_the_kubernetes_api(doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, API_VERSION, strict=True)


def test_there_are_a_gateway_and_speech_nodes_scaled_on_decoding_lag() -> None:
    deployments = {d["metadata"]["name"]: d for d in _of_kind("Deployment")}
    assert {"gateway", "speech"} <= deployments.keys()
    [hpa] = _of_kind("HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "speech"
    assert "hotline_speech_node_lag_seconds" in [m["pods"]["metric"]["name"] for m in hpa["spec"]["metrics"] if m["type"] == "Pods"]


def test_selectors_match_their_pods_and_references_exist() -> None:
    deployments = _of_kind("Deployment")
    for d in deployments:
        assert d["spec"]["selector"]["matchLabels"].items() <= d["spec"]["template"]["metadata"]["labels"].items()
    pod_labels = [d["spec"]["template"]["metadata"]["labels"] for d in deployments]
    for selector in [s["spec"]["selector"] for s in _of_kind("Service")] + [p["spec"]["selector"]["matchLabels"] for p in _of_kind("PodDisruptionBudget")]:
        assert any(selector.items() <= labels.items() for labels in pod_labels), selector
    config_maps = {c["metadata"]["name"] for c in _of_kind("ConfigMap")}
    claims = {c["metadata"]["name"] for c in _of_kind("PersistentVolumeClaim")}
    for d in deployments:
        spec = d["spec"]["template"]["spec"]
        for container in spec["containers"]:
            assert {ref["configMapRef"]["name"] for ref in container.get("envFrom", []) if "configMapRef" in ref} <= config_maps
        assert {v["persistentVolumeClaim"]["claimName"] for v in spec.get("volumes", []) if "persistentVolumeClaim" in v} <= claims


def test_every_variable_the_manifests_set_is_a_documented_setting() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    names = {name for c in _of_kind("ConfigMap") for name in c["data"]}
    names |= {e["name"] for d in _of_kind("Deployment") for c in d["spec"]["template"]["spec"]["containers"] for e in c.get("env", [])}
    assert sorted(n for n in names - NOT_SETTINGS if f"`{n}`" not in readme) == []
