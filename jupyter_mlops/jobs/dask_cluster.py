"""Reaching a Dask cluster, and checking up front that its workers can run a workspace's jobs.

A worker qualifies when it can import papermill and jupyter-mlops, start a ``python3`` kernel,
read the workspace's tracking store (an embedded SQLite file must be at the same path: a cluster
on the workspace's machine; PostgreSQL or an MLflow server serve any cluster) and write to its
artifact location. :func:`check_worker` runs on each worker (``client.run``), and each problem it
finds says what to change. ``distributed`` is imported on first use only.
"""

from __future__ import annotations

import importlib
import re
import socket
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from jupyter_mlops.errors import BackendUnavailable
from jupyter_mlops.jobs.schemas import ExecutorCheck, WorkerCheck

if TYPE_CHECKING:
    from distributed import Client

#: Seconds to connect to the scheduler: an unreachable one fails within this bound.
CONNECT_TIMEOUT = 8.0
#: Seconds the submit-time TCP check waits for the scheduler's port.
REACH_TIMEOUT = 5.0
EXECUTOR_HINT = (
    'Start the scheduler, or fix [jobs] executor in mlops.toml: "dask://host:8786" names a '
    'running Dask scheduler; "local" runs jobs on this machine.'
)


# -- the scheduler's address -----------------------------------------------------------------------


def scheduler_address(executor: str) -> str:
    """``dask://host:8786`` as Dask writes it (``tcp://host:8786``); other schemes unchanged."""
    if executor.startswith("dask://"):
        return "tcp://" + executor.removeprefix("dask://")
    return executor


def check_reachable(executor: str, timeout: float = REACH_TIMEOUT) -> None:
    """Open (and close) a TCP connection to the scheduler's port: cheap, and bounded.

    Raises:
        BackendUnavailable: nothing answers there, naming the address and how to fix it.
    """
    parsed = urlparse(scheduler_address(executor))
    try:
        host, port = parsed.hostname, parsed.port
    except ValueError:
        host, port = None, None
    if not host or not port:
        raise BackendUnavailable(
            f"The job executor {executor!r} has no host:port", hint=EXECUTOR_HINT, field="executor"
        )
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise BackendUnavailable(
            f"The Dask scheduler at {executor} cannot be reached: {reason}",
            hint=EXECUTOR_HINT,
            field="executor",
        ) from None


def connect(executor: str, timeout: float = CONNECT_TIMEOUT) -> Client:
    """A Dask client on the executor's scheduler, or an error within ``timeout`` seconds.

    Raises:
        BackendUnavailable: ``distributed`` is not installed, or the scheduler does not answer.
    """
    try:
        from distributed import Client
    except ImportError as exc:
        raise BackendUnavailable(
            f"The Dask executor needs the distributed package ({exc})",
            hint="pip install 'jupyter-mlops[dask]', or set [jobs] executor = \"local\".",
            field="executor",
        ) from None
    check_reachable(executor, timeout=min(timeout, REACH_TIMEOUT))
    try:
        return Client(scheduler_address(executor), timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise BackendUnavailable(
            f"The Dask scheduler at {executor} does not answer: {exc}",
            hint=EXECUTOR_HINT,
            field="executor",
        ) from None


# -- the up-front checks ---------------------------------------------------------------------------


def check_worker(
    tracking_uri: str, artifact_location: str, experiment: str, root: str
) -> dict[str, Any]:
    """Run on each Dask worker (``client.run``): what it lacks to run this workspace's jobs."""
    problems: list[str] = []
    notes: list[str] = []
    for module in ("papermill", "nbformat", "mlflow", "jupyter_mlops"):
        try:
            importlib.import_module(module)
        except Exception as exc:
            problems.append(f"cannot import {module} ({exc}): install jupyter-mlops on the worker")
    if not problems:
        try:
            from jupyter_client.kernelspec import KernelSpecManager

            KernelSpecManager().get_kernel_spec("python3")
        except Exception as exc:
            problems.append(f"no python3 kernel ({exc}): install ipykernel on the worker")
        problems.extend(_tracking_problems(tracking_uri, experiment))
    problems.extend(_artifact_problems(artifact_location))
    if not Path(root).is_dir():
        notes.append(
            f"the workspace folder {root} is not on this worker: notebooks run in a temporary "
            "folder, without the files beside them"
        )
    return {"problems": problems, "notes": notes, "host": socket.gethostname()}


def _shown(uri: str) -> str:
    """A URI without its password."""
    return re.sub(r"://([^:/@]+):[^@/]*@", r"://\1:***@", uri)


def _tracking_problems(uri: str, experiment: str) -> list[str]:
    fix = "use PostgreSQL or an MLflow server reachable from every worker ([tracking] uri)"
    if uri.startswith("sqlite:"):
        path = Path(uri.removeprefix("sqlite:///"))
        if not path.is_file():
            return [
                f"the tracking store is the SQLite file {path} of the workspace's machine, "
                f"absent here: {fix}"
            ]
    elif uri.startswith(("http://", "https://")):
        import urllib.request

        try:
            with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=5):
                pass
        except Exception as exc:
            return [f"the MLflow server {_shown(uri)} cannot be reached ({exc}): {fix}"]
    elif uri.startswith(("postgresql", "mysql", "mssql")):
        try:
            import sqlalchemy

            url = sqlalchemy.engine.make_url(uri)
            args = {"connect_timeout": 5} if url.get_backend_name() != "mssql" else {}
            engine = sqlalchemy.create_engine(url, connect_args=args)
            try:
                with engine.connect():
                    pass
            finally:
                engine.dispose()
        except Exception as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            return [f"the tracking database {_shown(uri)} cannot be opened ({reason}): {fix}"]
    try:
        from mlflow.tracking import MlflowClient

        MlflowClient(tracking_uri=uri).get_experiment_by_name(experiment)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return [f"cannot read experiments from the tracking store {_shown(uri)} ({first})"]
    return []


def _artifact_problems(location: str) -> list[str]:
    parsed = urlparse(location)
    if parsed.scheme in ("", "file"):
        folder = Path(parsed.path if parsed.scheme == "file" else location)
        if not folder.is_dir():
            return [
                f"the artifact folder {folder} is not on this worker: share it at the same "
                "path, or use an object store or an MLflow server for artifacts "
                "([tracking] artifact_location)"
            ]
        try:
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".mlops-probe-"):
                pass
        except OSError as exc:
            return [f"cannot write to the artifact folder {folder}: {exc.strerror or exc}"]
        return []
    try:
        from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

        get_artifact_repository(location)
    except Exception as exc:
        return [f"cannot open the artifact location {location} ({exc})"]
    return []


def check_cluster(
    client: Client,
    executor: str,
    *,
    tracking_uri: str,
    artifact_location: str,
    experiment: str,
    root: str,
    workers: list[str] | None = None,
) -> ExecutorCheck:
    """Check every worker of the cluster (or those named) with :func:`check_worker`."""
    info = client.scheduler_info(n_workers=-1)["workers"]
    names = [w for w in info if workers is None or w in workers]
    report = ExecutorCheck(executor=executor, scheduler=scheduler_address(executor), ok=False)
    if not names:
        if workers is None:
            report.problems.append(f"the Dask cluster at {executor} has no workers")
        return report
    results = client.run(
        check_worker,
        tracking_uri,
        artifact_location,
        experiment,
        root,
        workers=names,
        on_error="return",
    )
    for address in names:
        found = results.get(address)
        meta = info.get(address, {})
        if isinstance(found, dict):
            problems = [str(p) for p in found.get("problems", [])]
            notes = [str(n) for n in found.get("notes", [])]
            host = found.get("host")
        else:
            problems = [f"the check failed on the worker: {found!r}"]
            if isinstance(found, ImportError):
                problems = [f"cannot import jupyter_mlops ({found}): install jupyter-mlops there"]
            notes, host = [], None
        report.workers.append(
            WorkerCheck(
                address=address,
                name=str(meta.get("name")) if meta.get("name") is not None else None,
                host=host,
                nthreads=int(meta.get("nthreads", 0)),
                ok=not problems,
                problems=problems,
                notes=notes,
            )
        )
    report.ok = any(w.ok for w in report.workers)
    if not report.ok:
        report.problems.append("no worker of the cluster can run jobs of this workspace")
    return report


def check_executor(
    executor: str, *, tracking_uri: str, artifact_location: str, experiment: str, root: str
) -> ExecutorCheck:
    """Connect to the scheduler and check every worker; problems are reported, not raised."""
    try:
        client = connect(executor)
    except BackendUnavailable as exc:
        problem = f"{exc.message}. {exc.hint}" if exc.hint else exc.message
        return ExecutorCheck(
            executor=executor, scheduler=scheduler_address(executor), ok=False, problems=[problem]
        )
    try:
        return check_cluster(
            client,
            executor,
            tracking_uri=tracking_uri,
            artifact_location=artifact_location,
            experiment=experiment,
            root=root,
        )
    finally:
        client.close(timeout=5)
