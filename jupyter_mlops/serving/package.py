"""Package a registered model version for Docker and Kubernetes.

``package_model`` writes one folder that holds everything needed to run the version elsewhere:

- a Docker build context: ``Dockerfile``, ``.dockerignore``, ``requirements.txt`` (pinned),
  ``model/`` (the MLflow model), ``app/jupyter_mlops/`` (the server's code) and ``spec.json``
  (the :class:`~jupyter_mlops.serving.spec.ServerSpec` the image serves, the same spec a local
  deployment runs);
- ``k8s/``: a Deployment with probes and resources, a ClusterIP Service and a
  HorizontalPodAutoscaler, plus ``k8s/kserve/inferenceservice.yaml``, the KServe alternative;
- ``README.md``: how to build, run, deploy and call it.

The folder appears whole or not at all: it is built in a temporary sibling and renamed at the end.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from jupyter_mlops._version import __version__
from jupyter_mlops.errors import Conflict, InvalidInput
from jupyter_mlops.lineage import ModelRef
from jupyter_mlops.serving.deployments import check_deployment_name
from jupyter_mlops.serving.spec import ServedVersionSpec, ServerSpec

if TYPE_CHECKING:
    from jupyter_mlops.registry.schemas import ModelVersionDetail
    from jupyter_mlops.registry.service import ModelRegistry

# Where things live inside the image.
IMAGE_ROOT = "/opt/mlops"
IMAGE_MODEL = f"{IMAGE_ROOT}/model"
IMAGE_SPEC = f"{IMAGE_ROOT}/spec.json"
IMAGE_APP = f"{IMAGE_ROOT}/app"
IMAGE_PREDICTIONS = "/var/lib/mlops/predictions"
PORT = 8080
# A fixed numeric user, so Kubernetes can check runAsNonRoot without reading /etc/passwd.
UID = 10001

# What the model server imports at run time (beside the model's own requirements). uvicorn's
# fast loop and parser are named because the worker asks for them (loop="uvloop", http="httptools").
SERVER_REQUIREMENTS = (
    "mlflow",
    "scikit-learn",
    "numpy",
    "pandas",
    "scipy",
    "starlette",
    "uvicorn",
    "uvloop",
    "httptools",
    "orjson",
    "prometheus-client",
    "pydantic",
)
# Parts of the jupyter_mlops package a model server never imports.
_APP_EXCLUDE = ("labextension", "demo", "__pycache__", "*.pyc", "*.pyo")

_MIB = 1024 * 1024


class PackageResult(BaseModel):
    """What ``package`` wrote."""

    model: str = Field(description="the packaged version, e.g. churn:3")
    name: str = Field(description="the Kubernetes name of the service")
    folder: str = Field(description="the output folder")
    files: list[str] = Field(
        description="paths relative to the folder; the model/ and app/ copies as one entry each"
    )
    image: str = Field(description="the suggested image tag, e.g. churn:3")


def package_model(
    registry: ModelRegistry,
    model: str,
    out: Path,
    *,
    name: str | None = None,
    replicas: int = 2,
) -> PackageResult:
    """Write a Docker build context and Kubernetes manifests for a registered model version.

    Everything a user can get wrong is checked before anything is written: the model reference,
    the service name (a DNS-1035 label: Kubernetes Service and KServe names must start with a
    letter), the replica count and the output folder (new, or empty).

    Args:
        registry: the model registry that holds the model.
        model: ``NAME``, ``NAME@ALIAS`` or ``NAME:VERSION``; packaged as the version it resolves
            to now.
        out: the folder to create.
        name: the Kubernetes name (default: the model name, lower-cased, ``_``/``.`` -> ``-``).
        replicas: the Deployment's replicas and the autoscaler's minimum (it scales to 4x).

    Raises:
        NotFound: no such model, alias or version.
        InvalidInput: a bad name or replica count, or ``out`` exists and is not empty.

    Example:
        >>> out = ws.root / "dist/churn"
        >>> built = package_model(ws.registry, "churn@champion", out)  # doctest: +SKIP
        >>> built.image
        'churn:3'
    """
    if replicas < 1:
        raise InvalidInput(f"replicas must be at least 1, not {replicas}", field="replicas")
    detail, source = registry.locate(model)
    ref = str(ModelRef(detail.name, version=detail.version))
    name = name or kubernetes_name(detail.name)
    _check_kubernetes_name(name)
    out = Path(out)
    _check_out(out)
    image = f"{kubernetes_name(detail.name)}:{detail.version}"

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        _write_context(staging, source, detail, name)
        _write_manifests(staging / "k8s", name, ref, image, replicas, source)
        _write_text(staging / "README.md", _readme(staging, ref, name, image, detail))
        files = _listing(staging)
        _make_readable(staging)
        _publish(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return PackageResult(model=ref, name=name, folder=str(out), files=files, image=image)


def kubernetes_name(model_name: str) -> str:
    """The default Kubernetes name of a model: ``Churn_Model.v2`` -> ``churn-model-v2``."""
    return model_name.lower().replace("_", "-").replace(".", "-")


# -- checks ---------------------------------------------------------------------------------------


def _check_kubernetes_name(name: str) -> None:
    check_deployment_name(name)
    if not name[0].isalpha():
        raise InvalidInput(
            f"{name!r} cannot name a Kubernetes Service: it must start with a letter",
            hint="Pass --name, e.g. --name model-" + name,
            field="name",
        )


def _check_out(out: Path) -> None:
    if out.is_dir():
        if any(out.iterdir()):
            raise InvalidInput(
                f"The output folder {out} is not empty",
                hint="Choose another --out, or delete that folder first.",
                field="out",
            )
    elif out.exists():
        raise InvalidInput(
            f"The output path {out} is a file, not a folder",
            hint="Choose another --out, or delete that file first.",
            field="out",
        )


def _publish(staging: Path, out: Path) -> None:
    """Move the finished folder into place (an empty ``out`` is replaced)."""
    if out.is_dir():
        try:
            out.rmdir()
        except OSError:
            raise Conflict(
                f"The output folder {out} was filled while the package was being built",
                hint="Choose another --out.",
                field="out",
            ) from None
    try:
        os.rename(staging, out)
    except OSError as exc:
        raise Conflict(
            f"Cannot create {out}: {exc.strerror}", hint="Choose another --out.", field="out"
        ) from None


# -- the Docker build context ---------------------------------------------------------------------


def _write_context(folder: Path, source: Path, detail: ModelVersionDetail, name: str) -> None:
    shutil.copytree(source, folder / "model", ignore=shutil.ignore_patterns("__pycache__"))
    app_source = Path(__file__).resolve().parent.parent
    shutil.copytree(
        app_source, folder / "app" / "jupyter_mlops", ignore=shutil.ignore_patterns(*_APP_EXCLUDE)
    )
    spec = ServerSpec(
        deployment=name,
        models=[
            ServedVersionSpec(
                name=detail.name,
                version=detail.version,
                path=IMAGE_MODEL,
                features=detail.lineage.features if detail.lineage else [],
            )
        ],
        workspace=None,
        prediction_log=IMAGE_PREDICTIONS,
        log_predictions=True,
    )
    _write_text(folder / "spec.json", spec.model_dump_json(indent=1) + "\n")
    _write_text(folder / "requirements.txt", pinned_requirements(folder / "model"))
    ref = str(ModelRef(detail.name, version=detail.version))
    _write_text(folder / "Dockerfile", _dockerfile(ref))
    _write_text(
        folder / ".dockerignore",
        "# Only the Dockerfile's COPY sources belong in the build context.\n"
        "k8s/\nREADME.md\n**/__pycache__\n**/*.pyc\n",
    )


def pinned_requirements(model_folder: Path) -> str:
    """The image's requirements: the model's own, merged with the server's, pinned to here.

    A requirement is pinned to the version installed in this environment when that version
    satisfies it (the model was saved and is served here with it). A model requirement this
    environment does not satisfy is kept as the model states it, with a comment, so the image
    gets what the model needs. Lines pip would read as options or URLs are kept verbatim.
    """
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    wanted: dict[str, Requirement] = {}
    verbatim: list[str] = []
    listed = model_folder / "requirements.txt"
    lines = listed.read_text(encoding="utf-8").splitlines() if listed.is_file() else []
    for raw in lines:
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        try:
            req = Requirement(line)
        except InvalidRequirement:
            verbatim.append(line)
            continue
        wanted[canonicalize_name(req.name)] = req
    for dist in (*SERVER_REQUIREMENTS, *_serialization_requirements(model_folder)):
        wanted.setdefault(canonicalize_name(dist), Requirement(dist))

    out = [
        f"# Pinned by jupyter-mlops {__version__} on Python {_python_version()}: the model's",
        "# requirements.txt merged with what its model server imports.",
    ]
    for key in sorted(wanted):
        req = wanted[key]
        installed = _installed(req.name)
        marker = f"; {req.marker}" if req.marker else ""
        extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
        if req.url:
            out.append(str(req))
        elif installed is None:
            out.append(f"{req}  # not installed where this was packaged: not pinned")
        elif req.specifier.contains(installed[1], prereleases=True):
            out.append(f"{installed[0]}{extras}=={installed[1]}{marker}")
        else:
            out.append(f"{req}  # the model asks for this; {installed[1]} is installed here")
    if verbatim:
        out.append("# From the model's requirements.txt, as written:")
        out.extend(verbatim)
    return "\n".join(out) + "\n"


def _serialization_requirements(model_folder: Path) -> list[str]:
    """The library an sklearn model's file format needs to load (skops or cloudpickle)."""
    mlmodel = model_folder / "MLmodel"
    if not mlmodel.is_file():
        return []
    import yaml  # type: ignore[import-untyped, unused-ignore]

    meta = yaml.safe_load(mlmodel.read_text(encoding="utf-8")) or {}
    sklearn = (meta.get("flavors") or {}).get("sklearn") or {}
    fmt = str(sklearn.get("serialization_format") or "")
    return [fmt] if fmt in {"skops", "cloudpickle"} else []


def _installed(dist: str) -> tuple[str, str] | None:
    """(name as published, version) of an installed distribution, or None."""
    try:
        found = importlib.metadata.distribution(dist)
    except importlib.metadata.PackageNotFoundError:
        return None
    return str(found.metadata["Name"]), found.version


def _python_version() -> str:
    return ".".join(str(part) for part in sys.version_info[:3])


def _dockerfile(ref: str) -> str:
    base = f"python:{sys.version_info.major}.{sys.version_info.minor}-slim"
    health = (
        f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{PORT}/ping', timeout=2)"
    )
    healthcheck = json.dumps(["python", "-c", health])
    command = json.dumps(
        [
            "python",
            "-m",
            "jupyter_mlops.serving.worker",
            "--spec",
            IMAGE_SPEC,
            "--host",
            "0.0.0.0",
            "--port",
            str(PORT),
        ]
    )
    return f"""\
# The model server for {ref}, generated by jupyter-mlops {__version__}.
# Build: docker build -t IMAGE .    Run: docker run --rm -p {PORT}:{PORT} IMAGE
# The base image's Python matches the one the model was packaged with.
FROM {base}

ENV PYTHONDONTWRITEBYTECODE=1 \\
    PYTHONUNBUFFERED=1 \\
    PIP_NO_CACHE_DIR=1 \\
    PIP_DISABLE_PIP_VERSION_CHECK=1 \\
    PYTHONPATH={IMAGE_APP}

RUN useradd --system --uid {UID} --user-group --create-home --home-dir /home/mlops mlops \\
 && mkdir -p {IMAGE_PREDICTIONS} \\
 && chown -R {UID}:{UID} /var/lib/mlops

# Dependencies first, so this layer stays cached while only the model changes.
COPY requirements.txt {IMAGE_ROOT}/requirements.txt
RUN pip install --no-cache-dir -r {IMAGE_ROOT}/requirements.txt

# jupyter-mlops is not published on PyPI, so the image carries the source of its Python package
# (without the JupyterLab extension and the demo) on PYTHONPATH instead of a wheel: the server
# imports only its serving code, whose third-party needs are pinned in requirements.txt.
COPY app/ {IMAGE_APP}/
COPY model/ {IMAGE_MODEL}/
COPY spec.json {IMAGE_SPEC}

USER {UID}:{UID}
WORKDIR /home/mlops
EXPOSE {PORT}
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \\
    CMD {healthcheck}
CMD {command}
"""


# -- Kubernetes -----------------------------------------------------------------------------------


def _write_manifests(
    folder: Path, name: str, ref: str, image: str, replicas: int, model_folder: Path
) -> None:
    import yaml  # type: ignore[import-untyped, unused-ignore]

    max_replicas = max(replicas * 4, 4)
    selector = {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": name}
    labels = {
        **selector,
        "app.kubernetes.io/version": ref.rsplit(":", 1)[1],
        "app.kubernetes.io/component": "model-server",
        "app.kubernetes.io/part-of": "jupyter-mlops",
    }
    annotations = {"jupyter-mlops/model": ref}
    resources = _resources(model_folder)
    container_security = {
        "runAsNonRoot": True,
        "runAsUser": UID,
        "runAsGroup": UID,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }

    def probe(path: str, port: int | str, period: int, failures: int) -> dict[str, Any]:
        return {
            "httpGet": {"path": path, "port": port},
            "periodSeconds": period,
            "timeoutSeconds": 2,
            "failureThreshold": failures,
        }

    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels, "annotations": annotations},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": selector},
            # New pods are ready before old ones go, as in a local `deployments update`.
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
            },
            "template": {
                "metadata": {
                    "labels": labels,
                    "annotations": {
                        **annotations,
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": str(PORT),
                        "prometheus.io/path": "/metrics",
                    },
                },
                "spec": {
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": UID,
                        "runAsGroup": UID,
                        "fsGroup": UID,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "terminationGracePeriodSeconds": 30,
                    "containers": [
                        {
                            "name": "model-server",
                            "image": image,
                            "imagePullPolicy": "IfNotPresent",
                            "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
                            # The server listens only once its model is loaded and has answered
                            # its input example; loading may take a while, hence up to 3 minutes.
                            "startupProbe": probe("/ping", "http", 2, 90),
                            "readinessProbe": probe("/v2/health/ready", "http", 5, 3),
                            "livenessProbe": probe("/v2/health/live", "http", 10, 3),
                            "resources": resources,
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "capabilities": {"drop": ["ALL"]},
                            },
                            "volumeMounts": [
                                {"name": "predictions", "mountPath": IMAGE_PREDICTIONS}
                            ],
                        }
                    ],
                    # The prediction log outlives container restarts, not the pod: ship it to
                    # durable storage (or mount a PersistentVolumeClaim here) for monitoring.
                    "volumes": [{"name": "predictions", "emptyDir": {}}],
                },
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": labels, "annotations": annotations},
        "spec": {
            "type": "ClusterIP",
            "selector": selector,
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "labels": labels, "annotations": annotations},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": replicas,
            "maxReplicas": max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 70},
                    },
                }
            ],
        },
    }
    # A custom predictor: KServe reads its protocol from the container's PROTOCOL variable (the
    # protocolVersion field belongs to its built-in runtimes). Knative, which runs KServe's
    # serverless mode, allows only unnamed (or h2c/http1) ports and container-level security
    # settings, so this container differs from the Deployment's there.
    inference_service = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {
            "name": name,
            "labels": labels,
            "annotations": {**annotations, "serving.kserve.io/enable-prometheus-scraping": "true"},
        },
        "spec": {
            "predictor": {
                "minReplicas": replicas,
                "maxReplicas": max_replicas,
                "scaleMetric": "cpu",
                "scaleTarget": 70,
                "containers": [
                    {
                        "name": "kserve-container",
                        "image": image,
                        "imagePullPolicy": "IfNotPresent",
                        "env": [{"name": "PROTOCOL", "value": "v2"}],
                        "ports": [{"containerPort": PORT, "protocol": "TCP"}],
                        "readinessProbe": probe("/v2/health/ready", PORT, 5, 3),
                        "livenessProbe": {
                            **probe("/v2/health/live", PORT, 10, 3),
                            "initialDelaySeconds": 60,
                        },
                        "resources": resources,
                        "securityContext": container_security,
                    }
                ],
            }
        },
    }
    header = f"# {ref}, served by jupyter-mlops {__version__} (`jupyter mlops package`).\n"
    for path, doc in (
        (folder / "deployment.yaml", deployment),
        (folder / "service.yaml", service),
        (folder / "hpa.yaml", hpa),
        (folder / "kserve" / "inferenceservice.yaml", inference_service),
    ):
        path.parent.mkdir(parents=True, exist_ok=True)
        # A JSON round trip unshares the dicts used twice, which PyYAML would write as &anchors.
        plain = json.loads(json.dumps(doc))
        _write_text(path, header + yaml.safe_dump(plain, sort_keys=False, default_flow_style=False))


def _resources(model_folder: Path) -> dict[str, dict[str, str]]:
    """Requests and limits: a Python server with MLflow loaded needs ~300 MiB; the model is
    held in memory a few times over while it loads. Starting points, to tune with /metrics."""
    size = sum(p.stat().st_size for p in model_folder.rglob("*") if p.is_file())
    request = 512 * _MIB + 3 * size
    request = -(-request // (64 * _MIB)) * 64 * _MIB  # round up to 64 MiB
    return {
        "requests": {"cpu": "500m", "memory": f"{request // _MIB}Mi"},
        "limits": {"cpu": "1", "memory": f"{2 * request // _MIB}Mi"},
    }


# -- README ---------------------------------------------------------------------------------------


def _readme(folder: Path, ref: str, name: str, image: str, detail: ModelVersionDetail) -> str:
    model_name = detail.name
    example = folder / "model" / "serving_input_example.json"
    body = "@model/serving_input_example.json" if example.is_file() else "'{...}'"
    v2_body = _v2_example(example) or '{"inputs": [...]}'
    features = detail.lineage.features if detail.lineage else []
    feature_note = ""
    if features:
        feature_note = (
            "\n## Features\n\nThis model was trained on feature-store features "
            f"({', '.join(features)}). The image has no online store, so requests must carry "
            "every input column; entity keys alone are not enough.\n"
        )
    return f"""\
# {ref}: model server package

Generated by jupyter-mlops {__version__}. The image runs the same server as
`jupyter mlops deploy {ref}`: the MLflow scoring protocol (`POST /invocations`, `GET /ping`),
the Open Inference Protocol v2 (`/v2/...`) and Prometheus metrics (`GET /metrics`), on port {PORT}.
Every prediction is logged under `{IMAGE_PREDICTIONS}` in the container.

## Build and run with Docker

```bash
docker build -t {image} .
docker run --rm -p {PORT}:{PORT} {image}
curl -s localhost:{PORT}/ping
curl -s -X POST localhost:{PORT}/invocations -H 'Content-Type: application/json' \\
     -d {body}
curl -s -X POST localhost:{PORT}/v2/models/{model_name}/infer \\
     -H 'Content-Type: application/json' -d '{v2_body}'
```

## Deploy to Kubernetes

Push the image where the cluster can pull it, and point the manifests at it:

```bash
docker tag {image} REGISTRY/{image} && docker push REGISTRY/{image}
kubectl apply -f k8s/            # Deployment, Service (port 80) and HorizontalPodAutoscaler
kubectl set image deployment/{name} model-server=REGISTRY/{image}
kubectl port-forward service/{name} {PORT}:80
```

(With kind: `kind load docker-image {image}` instead of pushing.) The autoscaler needs the
metrics server. Requests and limits in `k8s/deployment.yaml` are starting points.

Or, on a cluster with KServe, apply `k8s/kserve/inferenceservice.yaml` instead of `k8s/`
(edit its `image` first): a custom predictor speaking the Open Inference Protocol v2.
{feature_note}
## Files

- `Dockerfile`, `.dockerignore`, `requirements.txt` (pinned to the versions this was packaged
  with), `spec.json` (what the server serves), `model/` (the MLflow model), `app/` (the
  jupyter-mlops server code, which is not on PyPI).
- `k8s/deployment.yaml`, `k8s/service.yaml`, `k8s/hpa.yaml`, `k8s/kserve/inferenceservice.yaml`.
"""


def _v2_example(example: Path) -> str | None:
    """The first row of the model's input example as an Open Inference Protocol v2 request:
    one tensor per column."""
    try:
        split = json.loads(example.read_text(encoding="utf-8"))["dataframe_split"]
        columns, row = split["columns"], split["data"][0]
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None
    tensors = []
    for column, value in zip(columns, row, strict=True):
        if isinstance(value, bool):
            datatype = "BOOL"
        elif isinstance(value, int):
            datatype = "INT64"
        elif isinstance(value, float):
            datatype = "FP64"
        else:
            datatype = "BYTES"
        tensors.append({"name": column, "shape": [1], "datatype": datatype, "data": [value]})
    text = json.dumps({"inputs": tensors})
    return None if "'" in text else text  # it goes between single quotes in a shell


# -- files ----------------------------------------------------------------------------------------


def _write_text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def _listing(folder: Path) -> list[str]:
    """Relative paths of what was written, with the two copied trees as one entry each."""
    files: list[str] = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        top = rel.split("/", 1)[0]
        if top in {"model", "app"}:
            if rel == top:
                files.append(f"{top}/")
            continue
        if path.is_file():
            files.append(rel)
    return files


def _make_readable(folder: Path) -> None:
    """Folders 755, files 644: Docker copies modes into the image, where a non-root user reads
    them (mkdtemp made the top folder 700)."""
    for path in [folder, *folder.rglob("*")]:
        if path.is_symlink():
            continue
        path.chmod(0o755 if path.is_dir() else 0o644)
