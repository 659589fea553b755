"""What a model server serves: the deployment spec a supervisor hands to its replicas.

The same spec drives a local deployment (written to ``.mlops/deployments/<name>/spec-<N>.json``)
and a packaged image (baked in as ``/opt/mlops/spec.json``), so both run the same server. A
replica needs nothing but its spec: each version's model folder and, for models trained on
features, the resolved online lookup (:class:`~jupyter_mlops.features.online.plan.LookupPlan`),
so it opens the online store and no other part of the workspace.

A spec may carry a routing section (:class:`~jupyter_mlops.serving.schemas.Routing`): the served
versions are then the variants of an A/B experiment. :func:`check_routing` and
:func:`check_route_request` are the rules an experiment's routing must follow; the spec checks
them when it is built, and the A/B service can call them before it asks for anything.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from jupyter_mlops.errors import InvalidInput, did_you_mean
from jupyter_mlops.features.online.plan import LookupPlan
from jupyter_mlops.process import write_json
from jupyter_mlops.serving.schemas import RouteRequest, Routing, ServedVersion

DEFAULT_MAX_BODY = 16 * 1024 * 1024
#: A variant's name travels in the ``x-variant`` header and the log: a short plain word.
_VARIANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
#: How far from 100 an experiment's weights may add up (float sums of 33.3 + 66.7 and the like).
WEIGHT_TOLERANCE = 1e-6


class ServedVersionSpec(ServedVersion):
    """A served version with what a replica needs to load it and fill its inputs."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(description="local folder of the MLflow model (MLmodel inside)")
    features: list[str] = Field(
        default_factory=list,
        description="pinned feature references the model was trained on (from its lineage)",
    )
    lookup: LookupPlan | None = Field(
        default=None,
        description="the online lookup of the features that feed the model's inputs",
    )


class ServerSpec(BaseModel):
    """Everything a replica needs to start serving."""

    model_config = ConfigDict(extra="forbid")

    deployment: str = Field(min_length=1)
    models: list[ServedVersionSpec] = Field(min_length=1)
    workspace: str | None = Field(
        default=None,
        description="only in specs written before lookups were resolved at deploy time: the "
        "workspace whose feature store resolves the versions' features when the replica starts",
    )
    prediction_log: str | None = Field(default=None, description="folder of the prediction log")
    metrics_dir: str | None = Field(
        default=None, description="prometheus multiprocess folder shared by the replicas"
    )
    grpc_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="the replicas also answer the Open Inference Protocol over gRPC on this port "
        "(each listens with SO_REUSEPORT); None or 0: no gRPC",
    )
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY, ge=1024)
    header_seconds: float = Field(
        default=10.0, gt=0, description="a connection has this long to send a request's headers"
    )
    body_seconds: float = Field(
        default=30.0, gt=0, description="a request has this long to send its body (else a 408)"
    )
    log_predictions: bool = True
    fsync_interval: float = Field(
        default=1.0, ge=0, description="seconds between fsyncs of the prediction log (0: never)"
    )
    segment_seconds: float | None = Field(
        default=60.0,
        gt=0,
        description="a replica closes its live log segment after this long (None: when full)",
    )
    compact_seconds: float | None = Field(
        default=30.0,
        gt=0,
        description="how often the supervisor compacts closed segments to Parquet (None: never)",
    )
    max_age_days: float | None = Field(
        default=30.0, gt=0, description="compacted log files older than this are dropped"
    )
    max_size_mb: float | None = Field(
        default=2048.0, gt=0, description="oldest log files are dropped while the log is larger"
    )
    routing: Routing | None = Field(
        default=None,
        description="the A/B experiment the served versions take part in (None: no experiment; "
        "weights are relative and the answers carry no variant)",
    )

    @model_validator(mode="after")
    def _routing_fits(self) -> ServerSpec:
        if self.routing is not None:
            check_routing(self.routing, self.models)
        return self

    def write(self, path: Path) -> None:
        """Write atomically (readers never see half a spec)."""
        write_json(path, self)

    @classmethod
    def read(cls, path: Path) -> ServerSpec:
        return cls.model_validate_json(path.read_text(encoding="utf-8"))


# -- the rules of an experiment's routing ----------------------------------------------------------


def check_variant_name(name: str, field: str = "variants") -> None:
    """Raise InvalidInput unless ``name`` can name a variant (it travels in a header)."""
    if not _VARIANT.match(name):
        raise InvalidInput(
            f"{name!r} cannot name a variant",
            hint="Use letters, digits, '_', '.' and '-', up to 64 characters, e.g. champion, "
            "challenger or treatment-b.",
            field=field,
        )


def check_weights(weights: Sequence[tuple[str, float]], *, shadow: bool) -> None:
    """The weights of an experiment's variants, as percentages of the answered requests.

    They must add up to 100. With ``shadow``, the variants of weight 0 are the shadows (a copy
    of each request), so there must be at least one of them and one variant with a weight.

    Raises:
        InvalidInput: naming the weights and what they add up to.
    """
    listed = ", ".join(f"{name} {weight:g}" for name, weight in weights)
    for name, weight in weights:
        if not math.isfinite(weight) or weight < 0 or weight > 100:
            raise InvalidInput(
                f"Variant {name} has weight {weight!r}; a weight is a percentage, 0 to 100",
                field="weight",
            )
    total = math.fsum(w for _, w in weights)
    if abs(total - 100.0) > WEIGHT_TOLERANCE:
        raise InvalidInput(
            f"The weights of an experiment are percentages and must add up to 100; "
            f"{listed} add up to {total:g}",
            hint="e.g. champion 90 and challenger 10.",
            field="weight",
        )
    if shadow and all(w > 0 for _, w in weights):
        raise InvalidInput(
            f"A shadow experiment needs a variant of weight 0 to get the copies; got {listed}",
            hint="Give the champion 100 and the challenger 0: the champion answers every "
            "request and the challenger sees a copy of each.",
            field="weight",
        )


def check_route_request(request: RouteRequest) -> None:
    """What can be checked of an experiment before its model references are resolved: the
    variant names (valid, not twice), the weights (:func:`check_weights`), the same reference
    twice.

    Raises:
        InvalidInput: with the offending field and a hint.
    """
    seen: set[str] = set()
    for v in request.variants:
        check_variant_name(v.variant, field="variant")
        if v.variant in seen:
            raise InvalidInput(
                f"Variant {v.variant} is named twice", hint="Give each variant its own name."
            )
        seen.add(v.variant)
    check_weights([(v.variant, v.weight) for v in request.variants], shadow=request.shadow)
    models: dict[str, str] = {}
    for v in request.variants:
        if v.model in models:
            raise InvalidInput(
                f"Variants {models[v.model]} and {v.variant} are both {v.model}; an experiment "
                "compares different versions",
                hint="Give the challenger another version, e.g. churn:3.",
                field="model",
            )
        models[v.model] = v.variant


def check_routing(routing: Routing, versions: Sequence[ServedVersion]) -> None:
    """Raise InvalidInput unless ``routing`` fits the served ``versions``: each variant names a
    served version as NAME:VERSION, each version is exactly one variant (a champion and a
    challenger on one version is refused), and the versions' weights pass
    :func:`check_weights`.

    Example:
        >>> same = {"champion": "churn:1", "challenger": "churn:1"}
        >>> check_routing(Routing(experiment_id="e", variants=same), served)  # doctest: +SKIP
        InvalidInput: Variants champion and challenger are both churn:1 ...
    """
    labels = {f"{v.name}:{v.version}": v for v in versions}
    taken: dict[str, str] = {}
    for variant, label in routing.variants.items():
        check_variant_name(variant)
        if label not in labels:
            raise InvalidInput(
                f"Variant {variant} is {label!r}, which this deployment does not serve",
                hint=did_you_mean(label, labels, listing="Served versions"),
                field=f"variants.{variant}",
            )
        if label in taken:
            raise InvalidInput(
                f"Variants {taken[label]} and {variant} are both {label}; an experiment compares "
                "different versions",
                hint="Serve the challenger's version too and name it as the challenger.",
                field=f"variants.{variant}",
            )
        taken[label] = variant
    unnamed = [label for label in labels if label not in taken]
    if unnamed:
        raise InvalidInput(
            f"Served version(s) {', '.join(unnamed)} are no variant of experiment "
            f"{routing.experiment_id}",
            hint="Name every served version in variants, or stop serving it.",
            field="variants",
        )
    check_weights([(taken[label], labels[label].weight) for label in labels], shadow=routing.shadow)
