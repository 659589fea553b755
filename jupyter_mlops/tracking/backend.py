"""The MLflow store a workspace tracks to: its URIs, its client, and MLflow's errors in ours.

Every domain that talks to MLflow (tracking, the registry, feature usage) receives the one
:class:`MlflowBackend` the workspace builds, and turns MLflow's exceptions into
:class:`~jupyter_mlops.errors.MlopsError` with :func:`mlflow_errors`.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_mlops.errors import BackendUnavailable, Conflict, InvalidInput, MlopsError, NotFound
from jupyter_mlops.process import file_lock

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

# Tracking URIs that MLflow opens with SQLAlchemy (dialect or dialect+driver).
_SQL_SCHEMES = ("sqlite:", "postgresql", "mysql", "mssql")


_IMPORT_LOCK = threading.Lock()
_mlflow_loaded = False


def load_mlflow() -> None:
    """Import MLflow once, under a lock.

    MLflow's package has import cycles: two threads importing it for the first time at once (the
    server's warm-up and a first request) can see a half-initialised ``mlflow.tracking`` and fail
    with ImportError. Every service goes through here before its first lazy MLflow import.
    """
    global _mlflow_loaded
    if _mlflow_loaded:
        return
    with _IMPORT_LOCK:
        if not _mlflow_loaded:
            import mlflow.tracking  # noqa: F401

            _mlflow_loaded = True


@contextmanager
def mlflow_errors(subject: str = "") -> Iterator[None]:
    """Turn MLflow's exceptions into :class:`MlopsError` with the right status."""
    load_mlflow()
    from mlflow.exceptions import MlflowException

    try:
        yield
    except MlopsError:
        raise
    except MlflowException as exc:
        code = exc.error_code
        message = exc.message
        if code in {"RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"}:
            raise NotFound(message if not subject else f"{subject}: {message}") from None
        if code in {"INVALID_PARAMETER_VALUE", "BAD_REQUEST", "INVALID_STATE"}:
            raise InvalidInput(message) from None
        if code in {"RESOURCE_ALREADY_EXISTS"}:
            raise Conflict(message) from None
        raise BackendUnavailable(
            f"The MLflow store failed: {message}",
            hint="Check [tracking].uri in mlops.toml and that the database or server is up.",
        ) from None
    except OSError as exc:
        raise BackendUnavailable(
            f"The MLflow store cannot be reached: {exc}",
            hint="Check [tracking].uri in mlops.toml and that the database or server is up.",
        ) from None


class MlflowBackend:
    """The workspace's MLflow tracking and registry stores, and where artifacts go.

    Args:
        tracking_uri: MLflow tracking URI (``sqlite:///...``, ``postgresql://...``, ``http://...``).
        registry_uri: MLflow registry URI.
        artifact_root: the local artifact folder (created with a new database).
        artifact_location: the artifact root for new experiments, as MLflow wants it.
    """

    def __init__(
        self, tracking_uri: str, registry_uri: str, artifact_root: Path, artifact_location: str
    ) -> None:
        self.tracking_uri = tracking_uri
        self.registry_uri = registry_uri
        self.artifact_root = artifact_root
        self.artifact_location = artifact_location
        # MLflow itself is imported on first use (client, engine, errors): a face that only
        # reads deployments or monitoring (the dashboard's kernel) never pays its 3 s import.

    @cached_property
    def client(self) -> MlflowClient:
        """The MLflow client on these stores (created on first use)."""
        load_mlflow()
        from mlflow.tracking import MlflowClient

        with self._creation_lock():
            if self.tracking_uri.startswith(_SQL_SCHEMES):
                self._create_sql_store()
            # MlflowClient opens the tracking store, which creates or migrates the tables.
            return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.registry_uri)

    @contextmanager
    def _creation_lock(self) -> Iterator[None]:
        """Several processes open a new workspace's embedded store at once (a job's workers, the
        Jupyter server, a command): MLflow's table creation is not safe against that (the file
        exists before its tables do), so on SQLite they take turns on a lock file beside it."""
        if not self.tracking_uri.startswith("sqlite:///"):
            yield
            return
        db = Path(self.tracking_uri.removeprefix("sqlite:///"))
        with file_lock(Path(f"{db}.lock")):
            yield

    def _create_sql_store(self) -> None:
        # MLflow's default experiment takes its artifact root from the store that creates the
        # database; left to MlflowClient it would be ./mlruns of whatever folder the process is in.
        # That holds for a new PostgreSQL or MySQL database as much as for the embedded SQLite one.
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

        uri = self.tracking_uri
        db: Path | None = None
        if uri.startswith("sqlite:"):
            db = Path(uri.removeprefix("sqlite:///"))
            if db.exists():
                return
            db.parent.mkdir(parents=True, exist_ok=True)
        else:
            _probe_database(uri)
        self.artifact_root.mkdir(parents=True, exist_ok=True)
        if db is not None and self._from_template(db):
            return
        SqlAlchemyStore(uri, self.artifact_location).engine.dispose()
        if db is not None:
            _save_template(db)

    def _from_template(self, db: Path) -> bool:
        """A new embedded store as a copy of the empty one this MLflow version made before
        (creating its tables takes ~5 s; a copy, 0.1 s), its default experiment's artifact
        location set to this workspace's. False when there is no template yet."""
        import sqlite3

        from mlflow.utils.uri import append_to_uri_path

        template = _template_path()
        if template is None or not template.is_file():
            return False
        tmp = db.with_name(f".{db.name}.{os.getpid()}.tmp")
        try:
            shutil.copyfile(template, tmp)
            now = int(time.time() * 1000)
            con = sqlite3.connect(tmp)
            try:
                con.execute(
                    "UPDATE experiments SET artifact_location = ?, creation_time = ?, "
                    "last_update_time = ? WHERE experiment_id = 0",
                    (append_to_uri_path(self.artifact_location, "0"), now, now),
                )
                con.commit()
            finally:
                con.close()
            os.replace(tmp, db)
        except (OSError, sqlite3.Error):
            Path(tmp).unlink(missing_ok=True)
            return False
        return True

    @property
    def sql_engine(self) -> Any:
        """The SQLAlchemy engine of MLflow's store when it is a database, else None."""
        load_mlflow()
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

        store = getattr(getattr(self.client, "_tracking_client", None), "store", None)
        return store.engine if isinstance(store, SqlAlchemyStore) else None

    def __repr__(self) -> str:
        return f"MlflowBackend({self.tracking_uri!r})"


def _template_path() -> Path | None:
    """Where the empty store of this MLflow version is cached (None: no cache folder)."""
    import mlflow

    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    if not base:
        return None
    return Path(base) / "jupyter-mlops" / f"mlflow-{mlflow.__version__}-empty.db"


def _save_template(db: Path) -> None:
    """Keep a copy of a store MLflow just created, before anything is written to it (best
    effort: no cache folder, no template)."""
    template = _template_path()
    if template is None or template.exists():
        return
    tmp = template.with_name(f".{template.name}.{os.getpid()}.tmp")
    try:
        template.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(db, tmp)
        os.replace(tmp, template)
    except OSError:
        tmp.unlink(missing_ok=True)


def _probe_database(uri: str) -> None:
    """Connect once with a short timeout, so that a wrong URI fails fast and says why.

    Left to MLflow, an unreachable database is retried for minutes and then ends in SQLAlchemy's
    traceback, and a missing driver in a bare ImportError.
    """
    import sqlalchemy

    hint = "Check [tracking].uri in mlops.toml and that the database server is up."
    try:
        url = sqlalchemy.engine.make_url(uri)
        url.get_dialect().import_dbapi()
    except ImportError as exc:
        raise BackendUnavailable(
            f"The database driver for {uri.split('://')[0]}:// URIs is not installed ({exc}).",
            hint="For postgresql:// install SQLAlchemy's default driver: pip install "
            "'psycopg[binary]'; or name an installed one, e.g. postgresql+psycopg2://...",
        ) from None
    except sqlalchemy.exc.ArgumentError as exc:
        raise BackendUnavailable(f"Not a database URI: {uri!r} ({exc}).", hint=hint) from None
    timeout = {"connect_timeout": 10} if url.get_backend_name() in {"postgresql", "mysql"} else {}
    engine = sqlalchemy.create_engine(url, connect_args=timeout)
    try:
        with engine.connect():
            pass
    except sqlalchemy.exc.SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        where = url.render_as_string(hide_password=True)
        raise BackendUnavailable(
            f"Cannot connect to the tracking database {where}: {reason}", hint=hint
        ) from None
    finally:
        engine.dispose()
