"""``package``: a Docker build context and Kubernetes manifests for a registered model version.

No Docker engine or cluster runs here, so the manifests are checked against the Kubernetes API's
own object schemas (kubernetes-validate, strict: unknown fields fail), and the packaged server is
started the way the image's CMD starts it, from the package's own ``app/`` and ``model/``.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import kubernetes_validate
import pytest
import yaml

from jupyter_mlops import Workspace
from jupyter_mlops.errors import InvalidInput, NotFound
from jupyter_mlops.serving.package import SERVER_REQUIREMENTS, PackageResult, package_model
from jupyter_mlops.serving.spec import ServerSpec
from tests.helpers import free_port, jupyter_mlops, stop_process_group, tail, wait_for

K8S_VERSION = kubernetes_validate.latest_version()
MANIFESTS = ("deployment.yaml", "service.yaml", "hpa.yaml")


def log_churn_model(ws: Workspace, name: str = "churn") -> str:
    """Log a logistic regression on two numeric columns with an input example; register it."""
    import mlflow
    import pandas as pd
    from mlflow.tracking._tracking_service import utils
    from sklearn.linear_model import LogisticRegression

    x = pd.DataFrame(
        {"tenure": [1.0, 5, 10, 20, 3, 40, 7, 60], "spend": [10.0, 20, 30, 5, 50, 60, 15, 80]}
    )
    y = [0, 0, 1, 1, 0, 1, 0, 1]
    clf = LogisticRegression().fit(x, y)
    previous = getattr(utils, "_tracking_uri", None)
    with ws.tracking.start_run("churn") as rec:
        mlflow.set_tracking_uri(ws.tracking_uri)
        try:
            with mlflow.start_run(run_id=rec.run_id):
                mlflow.sklearn.log_model(
                    clf, name="model", input_example=x.head(3), pip_requirements=["scikit-learn"]
                )
        finally:
            utils._tracking_uri = previous
    return ws.registry.register(rec.run_id, name).name


@pytest.fixture(scope="module")
def churn_ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """A workspace with model ``churn`` version 1, a real logged sklearn model."""
    ws = Workspace.init(tmp_path_factory.mktemp("package") / "ws")
    log_churn_model(ws)
    yield ws
    engine = ws.tracking.sql_engine
    if engine is not None:
        engine.dispose()


@pytest.fixture(scope="module")
def packaged(churn_ws: Workspace) -> PackageResult:
    """``churn`` packaged once into ``<workspace>/dist/churn`` (read by several tests)."""
    return package_model(churn_ws.registry, "churn", churn_ws.root / "dist" / "churn", replicas=3)


def load_yaml(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


def leftovers(parent: Path) -> list[str]:
    """Temporary build folders left beside the output."""
    return [p.name for p in parent.iterdir() if p.name.endswith(".partial")]


# -- what is written ------------------------------------------------------------------------------


def test_package_reports_what_it_wrote(packaged: PackageResult, churn_ws: Workspace) -> None:
    assert packaged.model == "churn:1"
    assert packaged.name == "churn"
    assert packaged.image == "churn:1"
    folder = Path(packaged.folder)
    assert folder == churn_ws.root / "dist" / "churn"
    assert packaged.files == [
        ".dockerignore",
        "Dockerfile",
        "README.md",
        "app/",
        "k8s/deployment.yaml",
        "k8s/hpa.yaml",
        "k8s/kserve/inferenceservice.yaml",
        "k8s/service.yaml",
        "model/",
        "requirements.txt",
        "spec.json",
    ]
    for entry in packaged.files:
        assert (folder / entry).exists(), entry
    assert (folder / "model" / "MLmodel").is_file()
    app = folder / "app" / "jupyter_mlops"
    assert (app / "serving" / "worker.py").is_file()
    assert (app / "_version.py").is_file()
    assert not (app / "labextension").exists()
    assert not (app / "demo").exists()
    assert not list(app.rglob("__pycache__"))
    assert leftovers(folder.parent) == []
    assert packaged.model_dump()["files"] == packaged.files


def test_spec_serves_the_model_baked_into_the_image(packaged: PackageResult) -> None:
    spec = ServerSpec.read(Path(packaged.folder) / "spec.json")
    assert spec.deployment == "churn"
    assert [(m.name, m.version, m.path) for m in spec.models] == [("churn", 1, "/opt/mlops/model")]
    assert spec.workspace is None
    assert spec.prediction_log == "/var/lib/mlops/predictions"
    assert spec.log_predictions is True


def test_dockerfile_runs_the_worker_on_the_spec_as_a_non_root_user(
    packaged: PackageResult,
) -> None:
    folder = Path(packaged.folder)
    lines = (folder / "Dockerfile").read_text().splitlines()
    instructions = [line for line in lines if line and not line.startswith(("#", " "))]
    v = sys.version_info
    assert instructions[0] == f"FROM python:{v.major}.{v.minor}-slim"
    cmd = [line for line in instructions if line.startswith("CMD ")]
    assert len(cmd) == 1
    argv = json.loads(cmd[0].removeprefix("CMD "))
    assert argv[:3] == ["python", "-m", "jupyter_mlops.serving.worker"]
    assert argv[argv.index("--spec") + 1] == "/opt/mlops/spec.json"
    assert argv[argv.index("--host") + 1] == "0.0.0.0"
    assert argv[argv.index("--port") + 1] == "8080"
    assert "EXPOSE 8080" in instructions
    user = [line for line in instructions if line.startswith("USER ")]
    assert user and not user[-1].split()[1].startswith(("root", "0"))
    text = "\n".join(lines)
    assert "HEALTHCHECK" in text and "http://127.0.0.1:8080/ping" in text
    assert "PYTHONPATH=/opt/mlops/app" in text
    # Every COPY source is in the build context, and the build context ignores the manifests.
    for line in instructions:
        if line.startswith("COPY "):
            assert (folder / line.split()[1]).exists(), line
    assert "k8s/" in (folder / ".dockerignore").read_text().splitlines()


def test_requirements_pin_the_server_and_the_model_to_installed_versions(
    packaged: PackageResult,
) -> None:
    text = (Path(packaged.folder) / "requirements.txt").read_text()
    pins = {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        name, _, version = line.partition("==")
        assert version, f"not pinned: {line}"
        pins[name.lower().replace("_", "-")] = version
    # The model was saved with skops (MLflow's default format), so it needs skops to load.
    for dist in (*SERVER_REQUIREMENTS, "skops"):
        assert pins[dist] == importlib.metadata.version(dist), dist
    assert "jupyter-mlops" not in pins  # not on PyPI: its source is in app/


# -- Kubernetes -----------------------------------------------------------------------------------


@pytest.mark.parametrize("manifest", MANIFESTS)
def test_manifest_is_valid_for_kubernetes(packaged: PackageResult, manifest: str) -> None:
    doc = load_yaml(Path(packaged.folder) / "k8s" / manifest)
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    assert doc["metadata"]["name"] == "churn"
    assert doc["metadata"]["labels"]["app.kubernetes.io/name"] == "churn"
    assert doc["metadata"]["annotations"]["jupyter-mlops/model"] == "churn:1"


def test_strict_validation_catches_a_misspelt_field(packaged: PackageResult) -> None:
    # The check above is worth something only if the schemas reject what a cluster would.
    doc = load_yaml(Path(packaged.folder) / "k8s" / "deployment.yaml")
    doc["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_deployment_probes_resources_and_metrics(packaged: PackageResult) -> None:
    k8s = Path(packaged.folder) / "k8s"
    deployment = load_yaml(k8s / "deployment.yaml")
    spec = deployment["spec"]
    assert spec["replicas"] == 3
    pod = spec["template"]
    selector = spec["selector"]["matchLabels"]
    assert selector.items() <= pod["metadata"]["labels"].items()
    annotations = pod["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == "8080"
    assert annotations["prometheus.io/path"] == "/metrics"
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["spec"]["containers"]
    assert container["image"] == "churn:1"
    assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert container["readinessProbe"]["httpGet"] == {"path": "/v2/health/ready", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/v2/health/live", "port": "http"}
    assert container["startupProbe"]["httpGet"] == {"path": "/ping", "port": "http"}
    for kind in ("requests", "limits"):
        assert set(container["resources"][kind]) == {"cpu", "memory"}
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert "/var/lib/mlops/predictions" in mounts

    service = load_yaml(k8s / "service.yaml")
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["selector"] == selector
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}
    ]

    hpa = load_yaml(k8s / "hpa.yaml")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "churn",
    }
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 12)
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"] == {
        "name": "cpu",
        "target": {"type": "Utilization", "averageUtilization": 70},
    }


def test_kserve_inference_service_is_a_v2_custom_predictor(packaged: PackageResult) -> None:
    # KServe's CRD is not among kubernetes-validate's schemas: check its shape, and check the
    # predictor's pod fields (a PodSpec inlined in KServe's PredictorSpec) as a real Pod.
    isvc = load_yaml(Path(packaged.folder) / "k8s" / "kserve" / "inferenceservice.yaml")
    assert isvc["apiVersion"] == "serving.kserve.io/v1beta1"
    assert isvc["kind"] == "InferenceService"
    assert isvc["metadata"]["name"] == "churn"
    predictor = dict(isvc["spec"]["predictor"])
    assert set(isvc["spec"]) == {"predictor"}
    extension = {k: predictor.pop(k) for k in ("minReplicas", "maxReplicas", "scaleMetric")}
    assert extension == {"minReplicas": 3, "maxReplicas": 12, "scaleMetric": "cpu"}
    assert predictor.pop("scaleTarget") == 70
    (container,) = predictor["containers"]
    assert container["name"] == "kserve-container"
    assert container["image"] == "churn:1"
    assert {"name": "PROTOCOL", "value": "v2"} in container["env"]
    assert [p["containerPort"] for p in container["ports"]] == [8080]
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert container["securityContext"]["runAsNonRoot"] is True
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "churn"}, "spec": predictor}
    kubernetes_validate.validate(pod, K8S_VERSION, strict=True)


# -- the packaged server answers ------------------------------------------------------------------


@pytest.mark.slow
def test_packaged_server_loads_the_model_and_predicts(
    packaged: PackageResult, tmp_path: Path
) -> None:
    """Run the image's CMD on this machine: its spec (with the image paths pointed into the
    package), its model copy, and its app/ source on PYTHONPATH, as in the image."""
    folder = Path(packaged.folder)
    spec = ServerSpec.read(folder / "spec.json")
    spec.models[0].path = str(folder / "model")
    spec.prediction_log = str(tmp_path / "predictions")
    spec.write(tmp_path / "spec.json")
    env = {**os.environ, "PYTHONPATH": str(folder / "app")}
    where = subprocess.run(
        [sys.executable, "-c", "import jupyter_mlops.serving.worker as w; print(w.__file__)"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(where.stdout.strip()).is_relative_to(folder / "app")

    port = free_port()
    log = tmp_path / "server.log"
    argv = [
        sys.executable,
        "-m",
        "jupyter_mlops.serving.worker",
        "--spec",
        str(tmp_path / "spec.json"),
    ]
    with log.open("wb") as out:
        server = subprocess.Popen(
            [*argv, "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            return httpx.get(f"{url}/ping", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(answers, "the packaged server", alive=lambda: server.poll() is None, log=log)
        example = json.loads((folder / "model" / "serving_input_example.json").read_text())
        response = httpx.post(f"{url}/invocations", json=example, timeout=10)
        assert response.status_code == 200, response.text
        predictions = response.json()["predictions"]
        assert len(predictions) == 3 and set(predictions) <= {0, 1}
        # The README's Open Inference Protocol example works as written.
        readme = (folder / "README.md").read_text()
        found = re.search(r"/v2/models/churn/infer .*?-d '(\{.*?\})'", readme, re.DOTALL)
        assert found, readme
        response = httpx.post(f"{url}/v2/models/churn/infer", content=found[1], timeout=10)
        assert response.status_code == 200, response.text
        (output,) = response.json()["outputs"]
        assert output["shape"] == [1]
        assert httpx.get(f"{url}/v2/health/ready", timeout=5).status_code == 200
        assert httpx.get(f"{url}/v2/health/live", timeout=5).status_code == 200
        assert "churn" in httpx.get(f"{url}/metrics", timeout=5).text
    finally:
        stop_process_group(server)
    assert server.returncode is not None, tail(log)
    assert any((tmp_path / "predictions").rglob("*")), "the server logged its predictions"


# -- refusals -------------------------------------------------------------------------------------


def test_unknown_model_is_not_found_before_anything_is_written(
    churn_ws: Workspace, tmp_path: Path
) -> None:
    out = tmp_path / "dist" / "nope"
    with pytest.raises(NotFound):
        package_model(churn_ws.registry, "nope@champion", out)
    with pytest.raises(NotFound):
        package_model(churn_ws.registry, "churn:9", out)
    assert not (tmp_path / "dist").exists()


def test_non_empty_out_is_refused_and_left_untouched(churn_ws: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "pkg"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(InvalidInput) as info:
        package_model(churn_ws.registry, "churn:1", out)
    assert info.value.field == "out"
    assert "--out" in (info.value.hint or "")
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    assert (out / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pkg"]


def test_an_empty_out_folder_is_filled(churn_ws: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "pkg"
    out.mkdir()
    built = package_model(churn_ws.registry, "churn", out, name="churn-api", replicas=1)
    assert built.name == "churn-api"
    assert built.image == "churn:1"
    assert (out / "Dockerfile").is_file()
    hpa = load_yaml(out / "k8s" / "hpa.yaml")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (1, 4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pkg"]


@pytest.mark.parametrize("name", ["Churn", "churn_api", "9churn", "-churn", "x" * 64])
def test_a_name_kubernetes_refuses_is_invalid(
    churn_ws: Workspace, tmp_path: Path, name: str
) -> None:
    with pytest.raises(InvalidInput) as info:
        package_model(churn_ws.registry, "churn", tmp_path / "pkg", name=name)
    assert info.value.field == "name"
    assert not (tmp_path / "pkg").exists()


def test_zero_replicas_is_invalid(churn_ws: Workspace, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        package_model(churn_ws.registry, "churn", tmp_path / "pkg", replicas=0)
    assert list(tmp_path.iterdir()) == []


def test_a_failure_mid_build_leaves_nothing_behind(churn_ws: Workspace, tmp_path: Path) -> None:
    # A real failure after the copies started: a model whose MLmodel file is not YAML.
    log_churn_model(churn_ws, "broken")
    source = churn_ws.registry.model_path("broken:1")
    (source / "MLmodel").write_text("flavors: [unclosed\n")
    out = tmp_path / "pkg"
    with pytest.raises(yaml.YAMLError) as info:
        package_model(churn_ws.registry, "broken:1", out)
    assert any(entry.name == "_write_context" for entry in info.traceback)
    assert list(tmp_path.iterdir()) == []


# -- the command ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_cli_package_prints_the_files(churn_ws: Workspace, tmp_path: Path) -> None:
    result = jupyter_mlops(
        "package", "churn:1", "--out", "pkg-cli", "--workspace", str(churn_ws.root), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    out = churn_ws.root / "pkg-cli"
    assert f"Packaged churn:1 into {out}" in result.stdout
    for entry in ("Dockerfile", "requirements.txt", "spec.json", "k8s/deployment.yaml"):
        assert f"  {entry}\n" in result.stdout
    assert f"docker build -t churn:1 {out}" in result.stdout
    assert (out / "k8s" / "kserve" / "inferenceservice.yaml").is_file()
    shutil.rmtree(out)
