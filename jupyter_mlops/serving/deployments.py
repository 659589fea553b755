"""Local deployments: a supervised model server per deployment, on 127.0.0.1.

``deploy`` resolves the model reference and checks the port before anything starts, writes the
deployment's folder and starts its supervisor (:mod:`.supervisor`) detached from the calling
process; ``update``, ``stop``, ``start``, ``remove``, ``status`` and ``logs`` work through that
folder, so deployments stay managed after JupyterLab restarts.

What comes back by itself (the revive rule): a deployment the user stopped stays stopped. One
whose supervisor is gone while it was starting, running, updating or degraded (kill -9, OOM,
a reboot) is restarted from its record, on the same HTTP and gRPC ports, the next time anyone
looks at it (:meth:`Deployments.list` or :meth:`Deployments.get`: the CLI, REST, the Models
panel's polling, and the Jupyter server when it starts). It is not restarted when a port is
taken by another process, nor after ``REVIVE_LIMIT`` restarts within ``REVIVE_WINDOW``: it then
reads ``failed`` with the reason, until ``start``.
"""

from __future__ import annotations

import builtins
import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_mlops.errors import BackendUnavailable, Conflict, InvalidInput, NotFound, did_you_mean
from jupyter_mlops.process import (
    LOOPBACK,
    Unreadable,
    check_port,
    file_lock,
    free_port,
    is_running,
    pids_of,
    read_json,
    start_detached,
    write_json,
)
from jupyter_mlops.serving.lookup import FeaturePlanner, lookup_for, model_inputs
from jupyter_mlops.serving.records import (
    RECORD_FILE,
    REVIVALS_FILE,
    STATUS_FILE,
    SUPERVISOR_MODULE,
    WORKER_MODULE,
    DeploymentRecord,
    DeploymentStatus,
    Revivals,
    replica_pids,
    spec_file,
)
from jupyter_mlops.serving.schemas import (
    DeploymentInfo,
    DeploymentStats,
    RouteRequest,
    Routing,
    ServedVersion,
)
from jupyter_mlops.serving.spec import (
    ServedVersionSpec,
    ServerSpec,
    check_route_request,
    check_routing,
)

if TYPE_CHECKING:
    import pandas as pd

    from jupyter_mlops.config import PredictionsConfig, ServingConfig
    from jupyter_mlops.registry.service import ModelRegistry

HOST = LOOPBACK
START_TIMEOUT = 180.0
_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_LIVE = {"starting", "running", "updating", "degraded", "stopping"}
#: A deployment whose supervisor died is restarted at most this many times within REVIVE_WINDOW
#: seconds; then it reads "failed" until the user starts it.
REVIVE_LIMIT = 3
REVIVE_WINDOW = 600.0


class Deployments:
    """The local deployments of a workspace.

    Example:
        >>> d = ws.deployments.deploy("churn@champion", replicas=2)      # doctest: +SKIP
        >>> d.url
        'http://127.0.0.1:8301'
        >>> ws.deployments.predict("churn", frame)                       # doctest: +SKIP
    """

    def __init__(
        self,
        state_dir: Path,
        *,
        registry: ModelRegistry,
        features: FeaturePlanner,
        config: ServingConfig,
        predictions: PredictionsConfig | None = None,
    ) -> None:
        """
        Args:
            state_dir: the workspace's ``.mlops`` folder: deployments live in ``deployments/``,
                prediction logs in ``predictions/``.
            registry: resolves the model references deployed.
            features: resolves the online lookup of models trained on features.
            config: the ``[serving]`` section of ``mlops.toml``.
            predictions: the ``[predictions]`` section (segment age, compaction, retention);
                None: its defaults.
        """
        self.root = state_dir / "deployments"
        self.predictions = state_dir / "predictions"
        self.registry = registry
        self.features = features
        self.config = config
        self.predictions_config = predictions
        self._samples: dict[str, tuple[float, dict[str, Any]]] = {}

    # -- reading ----------------------------------------------------------------------------------

    def list(self) -> list[DeploymentInfo]:
        """Every deployment recorded in the workspace, running or not.

        A deployment whose supervisor is gone though the user did not stop it is restarted
        on its ports (see the module's revive rule) and reads ``starting``.
        """
        if not self.root.is_dir():
            return []
        return [
            self._info(p, revive=True)
            for p in sorted(self.root.iterdir())
            if (p / RECORD_FILE).is_file()
        ]

    def get(self, name: str) -> DeploymentInfo:
        """One deployment's state (restarted first if its supervisor is gone, as in
        :meth:`list`)."""
        return self._info(self._folder(name), revive=True)

    def logs(self, name: str, lines: int = 100) -> str:
        """The last lines of the supervisor's and each replica's log."""
        folder = self._folder(name) / "logs"
        out: list[str] = []
        for path in sorted(folder.glob("*.log")):
            text = path.read_text(encoding="utf-8", errors="replace").splitlines()
            out.append(f"==> {path.name} <==")
            out.extend(text[-lines:])
        return "\n".join(out)

    def stats(self, name: str) -> DeploymentStats:
        """Requests, errors and latency from the deployment's /metrics.

        Totals are since the deployment started; rate and percentiles cover the time since the
        previous call for this deployment (the panel polls, so they are live).
        """
        info = self.get(name)
        if info.state not in _LIVE:
            return DeploymentStats()
        if not any(is_running(r.pid, WORKER_MODULE) for r in info.replica_processes):
            # Its socket still takes connections (the supervisor holds it) but nobody accepts
            # them: a scrape would only time out.
            raise BackendUnavailable(
                f"No replica of {name} is up to report its traffic"
                + (f": {info.error}" if info.error else ""),
                hint=f"See `jupyter mlops deployments logs {name}`.",
            )
        sample = _scrape(f"{info.url}/metrics")
        now = time.monotonic()
        previous = self._samples.get(name)
        self._samples[name] = (now, sample)
        stats = DeploymentStats(
            requests_total=int(sample["requests"]),
            errors_total=int(sample["errors"]),
            rows_total=int(sample["rows"]),
        )
        if previous is not None and now - previous[0] > 0.2:
            before = previous[1]
            interval = now - previous[0]
            count = sample["requests"] - before["requests"]
            stats.interval_seconds = interval
            stats.request_rate = max(count, 0) / interval
            if count > 0:
                stats.error_rate = (sample["errors"] - before["errors"]) / count
                buckets = {
                    le: c - before["buckets"].get(le, 0) for le, c in sample["buckets"].items()
                }
                stats.latency_p50_ms = _quantile(buckets, 0.5)
                stats.latency_p95_ms = _quantile(buckets, 0.95)
        return stats

    # -- changing ---------------------------------------------------------------------------------

    def deploy(
        self,
        model: str,
        *,
        name: str | None = None,
        replicas: int = 1,
        port: int | None = None,
        grpc_port: int | None = None,
        spare: bool | None = None,
        wait: bool = True,
    ) -> DeploymentInfo:
        """Start a supervised deployment of a registered model version on 127.0.0.1.

        Everything a user can get wrong is checked before anything starts: the model reference
        (``churn``, ``churn@champion``, ``churn:3``), the deployment name, the replica count and
        the ports. Without ``port`` a free one is chosen; the Open Inference Protocol's gRPC
        service answers on ``grpc_port`` (default: another free port; 0: no gRPC).

        While it has one replica, a deployment keeps a warm spare replica once it has run
        ``[serving] spare_after_seconds``, so that a replica that dies is replaced in about half a
        second; ``spare=False`` (or ``[serving] warm_spare = false``) saves that memory.

        Raises:
            NotFound: no such model, alias or version.
            Conflict: a deployment of that name is running, or the port is in use.
            InvalidInput: a bad name or replica count.
            BackendUnavailable: the server did not come up (the message includes why).
        """
        served, spec_models = self._resolve(model)
        name = name or served.name.lower().replace("_", "-").replace(".", "-")
        check_deployment_name(name)
        if not 1 <= replicas <= 16:
            raise InvalidInput(
                f"replicas must be between 1 and 16, not {replicas}", field="replicas"
            )
        folder = self.root / name
        previous: DeploymentRecord | None = None
        if (folder / RECORD_FILE).is_file():
            current = self._info(folder)
            if current.state in _LIVE:
                raise Conflict(
                    f"Deployment {name} is already {current.state} at {current.url}",
                    hint=f"Move it to another version with `jupyter mlops deployments update "
                    f"{name} {model}`, stop it first, or deploy under another --name.",
                )
            found = read_json(folder / RECORD_FILE, DeploymentRecord)
            previous = found if isinstance(found, DeploymentRecord) and found.port else None
        if previous is not None:
            # Deployed again under its name, it answers where its clients already call it.
            if port is None:
                port = _check_own_port(previous.port, name, "--port")
            if grpc_port is None:
                grpc_port = previous.grpc_port or 0
                if grpc_port and grpc_port != port:
                    _check_own_port(grpc_port, name, "--grpc-port")
                elif grpc_port == port:
                    grpc_port = None  # the user moved the HTTP port onto it: take a free one
        port = free_port(HOST) if port is None else check_port(port, HOST)
        if grpc_port is None:
            grpc_port = free_port(HOST)
            while grpc_port == port:
                grpc_port = free_port(HOST)
        elif grpc_port:
            if grpc_port == port:
                raise InvalidInput(
                    f"The gRPC port cannot be the HTTP port ({port})", field="grpc_port"
                )
            check_port(grpc_port, HOST)
        if folder.exists():
            shutil.rmtree(folder / "metrics", ignore_errors=True)
            for old in folder.glob("spec-*.json"):
                old.unlink()
        folder.mkdir(parents=True, exist_ok=True)
        now = time.time()
        record = DeploymentRecord(
            name=name,
            host=HOST,
            port=port,
            grpc_port=grpc_port or None,
            replicas=replicas,
            spare_after=self.config.spare_after_seconds
            if (self.config.warm_spare if spare is None else spare)
            else None,
            generation=1,
            created=now,
            updated=now,
            serving=[served],
        )
        self._spec(name, spec_models, grpc_port=grpc_port).write(folder / spec_file(1))
        write_json(folder / RECORD_FILE, record)
        (folder / STATUS_FILE).unlink(missing_ok=True)
        _start_supervisor(folder)
        if not wait:
            return self._info(folder)
        return self._wait(folder, 1, action="start")

    def update(
        self, name: str, model: str, *, replicas: int | None = None, wait: bool = True
    ) -> DeploymentInfo:
        """Move a running deployment to another model version with zero downtime.

        The new replicas must load and answer a smoke request before the old ones stop; if they
        fail, the old version keeps serving and this raises with the reason. A deployment running
        an experiment (:meth:`route`) ends it this way: it then serves ``model`` alone.
        """
        folder = self._folder(name)
        self._check_running(folder, model)
        served, spec_models = self._resolve(model)
        return self._move(folder, [served], spec_models, None, replicas=replicas, wait=wait)

    def route(
        self, name: str, request: RouteRequest, *, replicas: int | None = None, wait: bool = True
    ) -> DeploymentInfo:
        """Serve the variants of an A/B experiment from a running deployment, zero downtime.

        Each variant's model reference is resolved, the whole routing checked
        (:func:`~jupyter_mlops.serving.spec.check_route_request`, then
        :func:`~jupyter_mlops.serving.spec.check_routing`) before anything starts; then, as in
        :meth:`update`, new replicas answer before the old ones stop. Called again with other
        weights it moves traffic without dropping a request; keep the variants in the same order
        (champion first) so a ramp-up only moves sticky keys towards the later variants.

        Raises:
            InvalidInput: bad weights, names, or two variants on one version.
            NotFound: a model, alias or version that does not exist.
            Conflict: the deployment is not running.

        Example:
            >>> ws.deployments.route("churn-api", RouteRequest(
            ...     experiment_id="exp-7",
            ...     variants=[VariantRequest(variant="champion", model="churn@champion", weight=90),
            ...               VariantRequest(variant="challenger", model="churn:3", weight=10)],
            ...     sticky_key="user_id",
            ... ))                                                            # doctest: +SKIP
        """
        check_route_request(request)
        folder = self._folder(name)
        self._check_running(folder, request.variants[0].model)
        served: builtins.list[ServedVersion] = []
        spec_models: builtins.list[ServedVersionSpec] = []
        names: dict[str, str] = {}
        for v in request.variants:
            version, specs = self._resolve(v.model)
            served.append(version.model_copy(update={"weight": v.weight}))
            spec_models += [s.model_copy(update={"weight": v.weight}) for s in specs]
            names[v.variant] = f"{version.name}:{version.version}"
        routing = Routing(
            experiment_id=request.experiment_id,
            variants=names,
            sticky_key=request.sticky_key,
            shadow=request.shadow,
        )
        check_routing(routing, served)
        return self._move(folder, served, spec_models, routing, replicas=replicas, wait=wait)

    def routing(self, name: str) -> Routing | None:
        """The experiment a deployment's serving generation runs (None: none)."""
        info = self.get(name)
        try:
            spec = ServerSpec.read(Path(info.folder) / spec_file(info.generation))
        except (OSError, ValueError):
            return None
        return spec.routing

    def _check_running(self, folder: Path, model: str) -> None:
        current = self._info(folder)
        if current.state not in {"running", "degraded"}:
            raise Conflict(
                f"Deployment {folder.name} is {current.state}; only a running deployment can be "
                "updated",
                hint=f"Start it with `jupyter mlops deployments start {folder.name}`, or deploy "
                f"it again: `jupyter mlops deploy {model} --name {folder.name}`.",
            )

    def _move(
        self,
        folder: Path,
        served: builtins.list[ServedVersion],
        spec_models: builtins.list[ServedVersionSpec],
        routing: Routing | None,
        *,
        replicas: int | None,
        wait: bool,
    ) -> DeploymentInfo:
        """Write the next generation's spec and record, and have the supervisor move to it."""
        name = folder.name
        record = self._record(folder)
        generation = record.generation + 1
        if replicas is not None:
            if not 1 <= replicas <= 16:
                raise InvalidInput(
                    f"replicas must be between 1 and 16, not {replicas}", field="replicas"
                )
            record.replicas = replicas
        record.generation = generation
        record.updated = time.time()
        record.serving = served
        spec = self._spec(name, spec_models, routing, grpc_port=record.grpc_port)
        spec.write(folder / spec_file(generation))
        write_json(folder / RECORD_FILE, record)
        os.kill(self._supervisor_pid(folder), signal.SIGHUP)
        if not wait:
            return self._info(folder)
        return self._wait(folder, generation, action="update")

    def prewarm(self, name: str) -> None:
        """Ask a running deployment for a warm spare replica, so that its next update (an A/B
        test about to start) only loads models instead of starting an interpreter.

        Raises:
            NotFound: no such deployment.
            Conflict: it is not running.
        """
        os.kill(self._supervisor_pid(self._folder(name)), signal.SIGUSR1)

    def stop(self, name: str, *, timeout: float = 30.0) -> DeploymentInfo:
        """Stop a deployment (its replicas finish the requests they hold). A stopped deployment
        stays stopped: nothing restarts it until :meth:`start` or :meth:`deploy`."""
        folder = self._folder(name)
        deadline = time.monotonic() + timeout
        while True:
            status = self._status(folder)
            if status is not None and status.state not in _LIVE:
                break
            if status is not None and _is_supervisor(status.pid, folder):
                os.kill(status.pid, signal.SIGTERM)
                while _is_supervisor(status.pid, folder) and time.monotonic() < deadline:
                    time.sleep(0.05)
                break
            starting = status is None or (status.state == "starting" and not status.pid)
            if starting and time.monotonic() < deadline and self._supervisors(folder):
                time.sleep(0.05)  # a supervisor is starting: stop it once it says who it is
                continue
            if status is not None:
                # Its supervisor is gone: the user wants it stopped, so it is not revived.
                self._write_status(folder, status, state="stopped", replicas=[])
            break
        return self._info(folder)

    def start(self, name: str, *, wait: bool = True) -> DeploymentInfo:
        """Start a stopped (or failed) deployment again, as it was: the versions, routing and
        replica count of its record, on its HTTP and gRPC ports.

        Raises:
            NotFound: no such deployment.
            Conflict: it is running already, or one of its ports is in use.
            BackendUnavailable: it did not come up (the message includes why).
        """
        folder = self._folder(name)
        current = self._info(folder)
        if current.state in _LIVE:
            raise Conflict(
                f"Deployment {name} is already {current.state} at {current.url}",
                hint=f"Stop it first: `jupyter mlops deployments stop {name}`.",
            )
        record = self._record(folder)
        if not (folder / spec_file(record.generation)).is_file():
            raise Conflict(
                f"Deployment {name} cannot be started: {spec_file(record.generation)} is missing",
                hint=f"Deploy it again: `jupyter mlops deploy MODEL --name {name}`.",
            )
        _check_own_port(record.port, name, "--port")
        if record.grpc_port:
            _check_own_port(record.grpc_port, name, "--grpc-port")
        record.updated = time.time()
        write_json(folder / RECORD_FILE, record)
        (folder / STATUS_FILE).unlink(missing_ok=True)
        (folder / REVIVALS_FILE).unlink(missing_ok=True)
        _start_supervisor(folder)
        if not wait:
            return self._info(folder)
        return self._wait(folder, record.generation, action="start")

    def remove(self, name: str, *, purge_log: bool = False) -> DeploymentInfo:
        """Delete a stopped deployment's folder. Its prediction log stays (monitoring, A/B
        results and a later deployment under the same name read it) unless ``purge_log``.

        Raises:
            NotFound: no such deployment.
            Conflict: it is running (stop it first).
        """
        folder = self._folder(name)
        info = self._info(folder)
        if info.state in _LIVE:
            raise Conflict(
                f"Deployment {name} is {info.state}; only a stopped deployment can be removed",
                hint=f"Stop it first: `jupyter mlops deployments stop {name}`.",
            )
        shutil.rmtree(folder)
        if purge_log:
            shutil.rmtree(self.predictions / name, ignore_errors=True)
        return info

    def predict(self, name: str, data: Any, *, timeout: float = 30.0) -> pd.DataFrame:
        """Send rows to a deployment and get its predictions as a DataFrame.

        ``data`` is a DataFrame, a list of row dicts or a dict of columns. The result has one row
        per input row (same index for a DataFrame): first the entity keys the rows were looked up
        by (e.g. ``customer_id``), when sent, then the outputs under the names the server gives
        them: ``proba_<class>`` for a classifier's probabilities (``proba_0``, ``proba_1``), the
        model's own column names, or ``prediction`` for a single output.

        Example:
            >>> ws.deployments.predict("churn", pd.DataFrame({"customer_id": [1001, 1002]}))
            ...  # doctest: +SKIP
               customer_id   proba_0   proba_1
            0         1001  0.912300  0.087700
            1         1002  0.402100  0.597900
        """
        import httpx
        import pandas as pd

        info = self.get(name)
        if info.state not in {"running", "degraded", "updating"}:
            raise Conflict(f"Deployment {name} is {info.state}", hint="Deploy or start it first.")
        index = None
        if isinstance(data, pd.DataFrame):
            index = data.index
            body = {"dataframe_split": json.loads(data.to_json(orient="split", index=False))}
        elif isinstance(data, dict):
            body = {"inputs": data}
        elif isinstance(data, list):
            body = {"dataframe_records": data}
        else:
            raise InvalidInput(
                "data must be a DataFrame, a list of row dicts or a dict of columns",
                field="data",
            )
        try:
            response = httpx.post(f"{info.url}/invocations", json=body, timeout=timeout)
        except httpx.HTTPError as exc:
            raise BackendUnavailable(f"Deployment {name} did not answer: {exc}") from None
        payload = response.json()
        if response.status_code >= 400:
            raise InvalidInput(f"Deployment {name} refused the rows: {payload.get('message')}")
        frame = _answer_frame(payload)
        keys = [k for k in self._entity_keys(name) if k not in frame.columns]
        given = _key_values(data, keys)
        if given:
            frame = pd.concat([pd.DataFrame(given), frame], axis=1)
        if index is not None:
            frame.index = index
        return frame

    def _entity_keys(self, name: str) -> builtins.list[str]:
        """The entity keys of the versions a deployment serves (from its current spec)."""
        folder = self._folder(name)
        record = read_json(folder / RECORD_FILE, DeploymentRecord)
        if not isinstance(record, DeploymentRecord):
            return []
        try:
            spec = ServerSpec.read(folder / spec_file(record.generation))
        except (OSError, ValueError):
            return []
        keys: dict[str, None] = {}
        for m in spec.models:
            for k in m.lookup.keys if m.lookup else ():
                keys.setdefault(k, None)
        return builtins.list(keys)

    # -- internals --------------------------------------------------------------------------------

    def _resolve(self, model: str) -> tuple[ServedVersion, builtins.list[ServedVersionSpec]]:
        """The version a reference points at, and its spec: where its model files are and how
        its inputs are filled from the online store. Resolved once, before anything starts."""
        detail, path = self.registry.locate(model)
        features = detail.lineage.features if detail.lineage else []
        lookup = lookup_for(self.features, features, model_inputs(path)) if features else None
        served = ServedVersion(name=detail.name, version=detail.version, ref=model)
        spec = ServedVersionSpec(
            **served.model_dump(), path=str(path), features=features, lookup=lookup
        )
        return served, [spec]

    def _spec(
        self,
        name: str,
        models: builtins.list[ServedVersionSpec],
        routing: Routing | None = None,
        *,
        grpc_port: int | None = None,
    ) -> ServerSpec:
        from jupyter_mlops.config import PredictionsConfig

        config = self.config
        log = self.predictions_config or PredictionsConfig()
        retention = log.retention(name)
        return ServerSpec(
            deployment=name,
            models=models,
            prediction_log=str(self.predictions / name),
            max_body_bytes=max(1024, int(config.max_body_mb * 1024 * 1024)),
            log_predictions=config.log_predictions,
            fsync_interval=config.fsync_seconds,
            segment_seconds=log.segment_seconds,
            compact_seconds=log.compact_seconds,
            max_age_days=retention.max_age_days,
            max_size_mb=retention.max_size_mb,
            routing=routing,
            grpc_port=grpc_port or None,
        )

    def _folder(self, name: str) -> Path:
        folder = self.root / name
        # A name is one safe path segment: '..' or 'a/b' must not reach outside the workspace.
        if not _NAME.match(name) or not (folder / RECORD_FILE).is_file():
            hint = did_you_mean(
                name,
                [d.name for d in self.list()],
                listing="Deployments",
                empty="Nothing is deployed yet.",
            )
            raise NotFound(f"No deployment named {name!r}", hint=hint, field="name")
        return folder

    def _record(self, folder: Path) -> DeploymentRecord:
        record = read_json(folder / RECORD_FILE, DeploymentRecord)
        if not isinstance(record, DeploymentRecord):
            raise Conflict(
                f"Deployment {folder.name} cannot be changed: "
                f"{record or 'deployment.json is missing'}",
                hint=f"Deploy it again: `jupyter mlops deploy MODEL --name {folder.name}`.",
            )
        return record

    def _status(self, folder: Path) -> DeploymentStatus | None:
        status = read_json(folder / STATUS_FILE, DeploymentStatus)
        return status if isinstance(status, DeploymentStatus) else None

    def _supervisor_pid(self, folder: Path) -> int:
        status = self._status(folder)
        pid = status.pid if status is not None else 0
        if not pid or not _is_supervisor(pid, folder):
            raise Conflict(f"Deployment {folder.name} is not running")
        return pid

    def _info(self, folder: Path, *, revive: bool = False) -> DeploymentInfo:
        record = read_json(folder / RECORD_FILE, DeploymentRecord)
        if not isinstance(record, DeploymentRecord):
            # One broken folder is shown as failed; it does not break the listing of the others.
            return DeploymentInfo(
                name=folder.name,
                url="",
                host=HOST,
                port=0,
                state="failed",
                replicas=0,
                generation=0,
                serving=[],
                error=str(record or "deployment.json is missing"),
                created=0.0,
                updated=0.0,
                folder=str(folder),
            )
        found = read_json(folder / STATUS_FILE, DeploymentStatus)
        status = found if isinstance(found, DeploymentStatus) else None
        error = str(found) if isinstance(found, Unreadable) else None
        if status is None:
            late = time.time() - record.updated > START_TIMEOUT
            state = "failed" if error or late else "starting"
        else:
            state = status.state
            error = status.error
            if state in _LIVE and not _is_supervisor(status.pid, folder):
                if state == "starting" and not status.pid and _recent(status.updated):
                    pass  # being restarted: its new supervisor has not written yet
                elif revive and state != "stopping":
                    return self._revive(folder, record, status)
                else:
                    state = "stopped"
                    error = error or "the supervisor is gone (killed or rebooted)"
        live = state in {"running", "degraded", "updating", "stopping"}
        serving = status.models if status is not None and status.generation else record.serving
        return DeploymentInfo(
            name=record.name,
            url=f"http://{record.host}:{record.port}",
            host=record.host,
            port=record.port,
            grpc_url=f"{record.host}:{record.grpc_port}" if record.grpc_port else None,
            state=state,
            replicas=record.replicas,
            generation=status.generation if status is not None else record.generation,
            serving=serving,
            replica_processes=status.replicas if status is not None and live else [],
            spare_pid=status.spare_pid if status is not None and live else None,
            restarts=status.restarts if status is not None else 0,
            error=error,
            created=record.created,
            updated=status.updated if status is not None else record.updated,
            folder=str(folder),
        )

    def _revive(
        self, folder: Path, record: DeploymentRecord, status: DeploymentStatus
    ) -> DeploymentInfo:
        """Restart a deployment whose supervisor is gone (the module's revive rule).

        Faces look at deployments at once (the panel polls while a CLI lists): under a lock,
        the first one restarts it, the others see the ``starting`` status it leaves.
        """
        with file_lock(folder / "revive.lock"):
            now = self._status(folder)
            if now is None or now.model_dump() != status.model_dump():
                return self._info(folder)  # someone acted meanwhile
            if self._supervisors(folder):
                return self._info(folder)  # one is starting and has not written yet
            gone = (
                f"its supervisor (pid {status.pid}) was gone (killed, or the machine restarted)"
                if status.pid
                else "its supervisor did not start"
            )
            found = read_json(folder / REVIVALS_FILE, Revivals)
            revivals = found if isinstance(found, Revivals) else Revivals()
            t = time.time()
            recent = [a for a in revivals.attempts if t - a < REVIVE_WINDOW]
            if len(recent) >= REVIVE_LIMIT:
                self._write_status(
                    folder,
                    now,
                    state="failed",
                    pid=0,
                    replicas=[],
                    error=f"{gone}; it was restarted {len(recent)} times in "
                    f"{REVIVE_WINDOW / 60:.0f} minutes and is not restarted again. See "
                    f"`jupyter mlops deployments logs {folder.name}`, then `jupyter mlops "
                    f"deployments start {folder.name}`",
                )
                return self._info(folder)
            if not replica_pids(folder):  # its own draining replicas may still hold them
                try:
                    check_port(record.port, HOST)
                    if record.grpc_port:
                        check_port(record.grpc_port, HOST)
                except (Conflict, InvalidInput) as exc:
                    self._write_status(
                        folder,
                        now,
                        state="failed",
                        pid=0,
                        replicas=[],
                        error=f"{gone}; it cannot be restarted: {exc.message}. Free the port "
                        f"and run `jupyter mlops deployments start {folder.name}`, or deploy "
                        "it again with another --port",
                    )
                    return self._info(folder)
            write_json(folder / REVIVALS_FILE, Revivals(attempts=[*recent, t]))
            when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t))
            self._write_status(
                folder,
                now,
                state="starting",
                pid=0,
                replicas=[],
                error=f"restarted at {when}: {gone}",
            )
            try:
                _start_supervisor(folder)
            except (OSError, subprocess.SubprocessError) as exc:
                self._write_status(folder, now, state="failed", error=f"{gone}; restart: {exc}")
        return self._info(folder)

    def _write_status(self, folder: Path, status: DeploymentStatus, **change: Any) -> None:
        """Change the status of a deployment whose supervisor is gone (only then: a running
        supervisor is the one writer of its status)."""
        write_json(
            folder / STATUS_FILE, status.model_copy(update={**change, "updated": time.time()})
        )

    def _supervisors(self, folder: Path) -> builtins.list[int]:
        """The live supervisor processes of a deployment (one, or none)."""
        return pids_of(SUPERVISOR_MODULE, str(folder))

    def _wait(self, folder: Path, generation: int, *, action: str) -> DeploymentInfo:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            status = self._status(folder)
            state = status.state if status is not None else None
            if action == "start" and state == "running":
                return self._info(folder)
            if status is not None and action == "update" and state in {"running", "degraded"}:
                if status.generation == generation:
                    return self._info(folder)
                if status.update_failed == generation:
                    raise InvalidInput(
                        f"The update of {folder.name} failed: {status.error}",
                        hint=f"See `jupyter mlops deployments logs {folder.name}`.",
                    )
            if status is not None and state == "failed":
                raise BackendUnavailable(
                    f"Deployment {folder.name} failed to start: {status.error}",
                    hint=f"See `jupyter mlops deployments logs {folder.name}`.",
                )
            if (
                action == "start"
                and status is not None
                and status.pid
                and not _is_supervisor(status.pid, folder)
            ):
                break
            time.sleep(0.05)
        raise BackendUnavailable(
            f"Deployment {folder.name} did not {action} within {START_TIMEOUT:.0f} s",
            hint=f"See `jupyter mlops deployments logs {folder.name}`.",
        )


def check_deployment_name(name: str) -> None:
    if not _NAME.match(name):
        raise InvalidInput(
            f"{name!r} cannot name a deployment",
            hint="Use lower-case letters, digits and '-', up to 63 characters (it becomes a "
            "Kubernetes name when packaged), e.g. churn-api.",
            field="name",
        )


def _recent(updated: float) -> bool:
    return time.time() - updated < START_TIMEOUT


def _check_own_port(port: int, name: str, option: str) -> int:
    """A port a deployment had before, if it is free again."""
    try:
        return check_port(port, HOST)
    except Conflict as exc:
        raise Conflict(
            f"Port {port} of deployment {name} is in use by another process",
            hint=f"Free it, or pass {option} to choose another.",
            field=exc.field,
        ) from None


def _start_supervisor(folder: Path) -> None:
    env = dict(os.environ)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    start_detached(
        SUPERVISOR_MODULE,
        [str(folder)],
        cwd=folder,
        log=folder / "logs" / "supervisor.log",
        env=env,
    )


def _is_supervisor(pid: int, folder: Path) -> bool:
    """Whether ``pid`` is this deployment's supervisor (not a reused pid)."""
    return is_running(pid, SUPERVISOR_MODULE, str(folder))


def _scrape(url: str) -> dict[str, Any]:
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    try:
        text = httpx.get(url, timeout=5).text
    except httpx.HTTPError as exc:
        raise BackendUnavailable(f"{url} did not answer: {exc}") from None
    out: dict[str, Any] = {"requests": 0.0, "errors": 0.0, "rows": 0.0, "buckets": {}}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "mlops_requests_total":
                out["requests"] += sample.value
            elif sample.name == "mlops_request_errors_total":
                out["errors"] += sample.value
            elif sample.name == "mlops_predicted_rows_total":
                out["rows"] += sample.value
            elif sample.name == "mlops_request_latency_seconds_bucket":
                le = float(sample.labels["le"])
                out["buckets"][le] = out["buckets"].get(le, 0.0) + sample.value
    return out


def _quantile(buckets: dict[float, float], q: float) -> float | None:
    """A quantile (ms) from cumulative histogram buckets, interpolated within its bucket."""
    edges = sorted(buckets)
    if not edges or buckets[edges[-1]] <= 0:
        return None
    total = buckets[edges[-1]]
    target = q * total
    lower, below = 0.0, 0.0
    for edge in edges:
        count = buckets[edge]
        if count >= target:
            if edge == float("inf"):
                return lower * 1000.0
            share = (target - below) / (count - below) if count > below else 1.0
            return (lower + (edge - lower) * share) * 1000.0
        lower, below = edge, count
    return lower * 1000.0


def _answer_frame(payload: dict[str, Any]) -> pd.DataFrame:
    """A ``/invocations`` answer as a DataFrame with the output names the server gave."""
    import pandas as pd

    from jupyter_mlops.serving.outputs import default_names

    predictions = payload["predictions"]
    if predictions and isinstance(predictions[0], dict):  # records: named by the model
        return pd.DataFrame(predictions)
    frame = pd.DataFrame(predictions)
    names = payload.get("output_names")
    if not isinstance(names, builtins.list) or len(names) != frame.shape[1]:
        names = default_names(frame.shape[1])  # a server from before outputs were named
    frame.columns = [str(n) for n in names]
    return frame


def _key_values(data: Any, keys: builtins.list[str]) -> dict[str, builtins.list[Any]]:
    """The entity keys' values as sent, by key (keys the rows do not carry left out)."""
    import pandas as pd

    if not keys:
        return {}
    if isinstance(data, pd.DataFrame):
        return {k: data[k].tolist() for k in keys if k in data.columns}
    if isinstance(data, dict):
        return {k: builtins.list(data[k]) for k in keys if isinstance(data.get(k), builtins.list)}
    if isinstance(data, builtins.list) and all(isinstance(r, dict) for r in data):
        return {k: [r.get(k) for r in data] for k in keys if any(k in r for r in data)}
    return {}
