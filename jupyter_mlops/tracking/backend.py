"""The MLflow store a workspace tracks to: its URIs, its client, and MLflow's errors in ours.

Every domain that talks to MLflow (tracking, the registry, feature usage) receives the one
:class:`MlflowBackend` the workspace builds, and turns MLflow's exceptions into
:class:`~jupyter_mlops.errors.MlopsError` with :func:`mlflow_errors`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from jupyter_mlops.errors import BackendUnavailable, Conflict, InvalidInput, MlopsError, NotFound
from jupyter_mlops.process import file_lock, read_json, write_json

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

# Tracking URIs that MLflow opens with SQLAlchemy (dialect or dialect+driver).
_SQL_SCHEMES = ("sqlite:", "postgresql", "mysql", "mssql")

#: The file in a workspace's state folder that remembers which tracking stores were created
#: there: a store it names that is missing or empty was lost, not yet to be made.
STORES_FILE = "tracking-stores.json"


class KnownStore(BaseModel):
    """A tracking store this workspace created or found with its tables."""

    where: str
    created: str


class KnownStores(BaseModel):
    """The content of :data:`STORES_FILE`: stores by the SHA-256 of their URI (a URI may carry
    a password)."""

    stores: dict[str, KnownStore] = {}


#: The database file (device, inode) MLflow's shared engine of each SQLite URI was last used on.
_ENGINE_FILES: dict[str, tuple[int, int] | None] = {}
_ENGINE_FILES_LOCK = threading.Lock()
#: Opening a store may create or migrate its tables, which MLflow does with alembic; alembic keeps
#: its migration context in module globals, so two threads of one process migrating at once,
#: even two different databases, run each other's steps ("table ... already exists",
#: KeyError: 'config'). The file lock only orders openers of the same database.
_OPEN_LOCK = threading.Lock()

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
        state_dir: the workspace's state folder, where :data:`STORES_FILE` remembers the stores
            made so far (None: nothing remembered, every missing store is a new one).
    """

    def __init__(
        self,
        tracking_uri: str,
        registry_uri: str,
        artifact_root: Path,
        artifact_location: str,
        state_dir: Path | None = None,
    ) -> None:
        self.tracking_uri = tracking_uri
        self.registry_uri = registry_uri
        self.artifact_root = artifact_root
        self.artifact_location = artifact_location
        self.state_dir = state_dir
        # MLflow itself is imported on first use (client, engine, errors): a face that only
        # reads deployments or monitoring (the dashboard's kernel) never pays its 3 s import.
        self._client: MlflowClient | None = None
        self._opened: tuple[int, int] | None = None  # the embedded database file the client uses
        self._client_lock = threading.Lock()

    @property
    def sqlite_path(self) -> Path | None:
        """The database file of an embedded (SQLite) tracking store, else None."""
        if not self.tracking_uri.startswith("sqlite:///"):
            return None
        return Path(self.tracking_uri.removeprefix("sqlite:///").split("?", 1)[0])

    @property
    def client(self) -> MlflowClient:
        """The MLflow client on these stores (created on first use).

        A long-lived process (the Jupyter server) checks on each use that the embedded database
        is still the file it opened: deleted or emptied, it is a 503 saying so (never a new empty
        store, never SQL errors from a half-gone file); put back, it is opened again.
        """
        db = self.sqlite_path
        client = self._client
        if client is not None and (db is None or _file_identity(db) == self._opened):
            return client
        with self._client_lock:
            if self._client is not None and (db is None or _file_identity(db) == self._opened):
                return self._client
            if self._client is not None:
                # The file changed under a running process: its pooled connections still read
                # the deleted file, and a new connection would make an empty one in its place.
                self._client = None
                _dispose_engines(self.tracking_uri, self.registry_uri)
            self._client = self._open_client()
            return self._client

    def _open_client(self) -> MlflowClient:
        load_mlflow()

        with _OPEN_LOCK, self._creation_lock():
            if self.tracking_uri.startswith(_SQL_SCHEMES):
                self._create_sql_store()
            db = self.sqlite_path
            self._opened = _file_identity(db) if db is not None else None
            if db is not None:
                # MLflow keeps one engine per URI for the whole process: its pooled connections
                # may still be on a file that was since deleted or replaced, or on the empty
                # file a connection made before a new store was copied over it (an engine not
                # seen here yet is dropped too: a store opened on an empty file makes its own
                # Default experiment, with artifacts in ./mlruns of the current folder).
                with _ENGINE_FILES_LOCK:
                    if _ENGINE_FILES.get(self.tracking_uri) != self._opened:
                        _dispose_engines(self.tracking_uri, self.registry_uri)
                    _ENGINE_FILES[self.tracking_uri] = self._opened
            # MlflowClient opens the tracking store, which creates or migrates the tables.
            return _under_ddl_race(
                lambda: _open_stores(self.tracking_uri, self.registry_uri),
                self.tracking_uri,
                self.registry_uri,
            )

    @contextmanager
    def _creation_lock(self) -> Iterator[None]:
        """Several processes open a new workspace's embedded store at once (a job's workers, the
        Jupyter server, a command): MLflow's table creation is not safe against that (the file
        exists before its tables do), so on SQLite they take turns on a lock file beside it."""
        db = self.sqlite_path
        if db is None:
            yield
            return
        with file_lock(Path(f"{db}.lock")):
            yield

    def _create_sql_store(self) -> None:
        # MLflow's default experiment takes its artifact root from the store that creates the
        # database; left to MlflowClient it would be ./mlruns of whatever folder the process is in.
        # That holds for a new PostgreSQL or MySQL database as much as for the embedded SQLite one.
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

        uri = self.tracking_uri
        db = self.sqlite_path
        if db is not None:
            if _sqlite_has_tables(db):
                self._remember_store()
                return
            self._refuse_lost_store()
            db.parent.mkdir(parents=True, exist_ok=True)
        else:
            if _probe_database(uri):
                self._remember_store()
                return
            self._refuse_lost_store()
        self.artifact_root.mkdir(parents=True, exist_ok=True)
        # A template replaces the file whole: only where there is none yet or it is empty (a
        # SQLite connection makes an empty file), never over someone's other database.
        fresh = db is not None and (not db.exists() or db.stat().st_size == 0)
        if not (fresh and db is not None and self._from_template(db)):
            SqlAlchemyStore(uri, self.artifact_location).engine.dispose()
            if fresh and db is not None:
                _save_template(db)
        self._remember_store()

    # -- the stores this workspace made ----------------------------------------------------------

    @property
    def _stores_file(self) -> Path | None:
        return None if self.state_dir is None else self.state_dir / STORES_FILE

    def _store_key(self) -> str:
        return hashlib.sha256(self.tracking_uri.encode()).hexdigest()

    def _known_stores(self) -> KnownStores | None:
        """The stores noted so far; None when the note is missing or unreadable (an unreadable
        note protects nothing: the next store opened rewrites it)."""
        path = self._stores_file
        found = None if path is None else read_json(path, KnownStores)
        return found if isinstance(found, KnownStores) else None

    def _remember_store(self) -> None:
        """Note that this store exists (made now, or found with its tables: a workspace from
        before the note was kept), so that losing it later is noticed."""
        path = self._stores_file
        if path is None:
            return
        known = self._known_stores() or KnownStores()
        key = self._store_key()
        if key in known.stores:
            return
        known.stores[key] = KnownStore(
            where=_display_uri(self.tracking_uri),
            created=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        # A read-only state folder: the store works, its loss just goes unnoticed.
        with suppress(OSError):
            write_json(path, known)

    def _refuse_lost_store(self) -> None:
        """Raise when this workspace made this store before and it is now missing or empty."""
        known = (self._known_stores() or KnownStores()).stores.get(self._store_key())
        if known is None:
            return
        db = self.sqlite_path
        what = (
            f"The tracking store {db} is missing"
            if db is not None and not db.exists()
            else f"The tracking store {db} is empty"
            if db is not None
            else f"The tracking database {known.where} has no MLflow tables"
        )
        raise BackendUnavailable(
            f"{what}: this workspace's experiments, runs and registered models were kept there "
            f"(store made or first seen {known.created}). jupyter-mlops does not make a new "
            "empty one in its place.",
            hint=(
                (
                    f"Put {db} back from a backup; a running Jupyter server uses it again on "
                    "its next request."
                    if db is not None
                    else f"Restore the database {known.where} from a backup."
                )
                + f" To start over with an empty store instead, delete {self._stores_file}"
                + (f" and the empty {db.name}" if db is not None and db.exists() else "")
                + "."
            ),
        )

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


def _file_identity(path: Path) -> tuple[int, int] | None:
    """The device and inode of a non-empty file; None when it is missing or empty."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if st.st_size > 0 else None


def _sqlite_has_tables(db: Path) -> bool:
    """Whether ``db`` is a SQLite file holding MLflow's tables (opened read-only: looking never
    creates the file)."""
    import sqlite3

    if _file_identity(db) is None:
        return False
    try:
        con = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return False
    try:
        row = con.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'experiments'"
        ).fetchone()
    except sqlite3.Error:
        return False  # not a database at all: MLflow's own error says so when it opens it
    finally:
        con.close()
    return row is not None


def _open_stores(tracking_uri: str, registry_uri: str) -> MlflowClient:
    """A client whose tracking and registry stores are both open (each checks its tables when it
    opens, and creates missing ones: done here, under the creation lock, not on a later call)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=registry_uri)
    client._get_registry_client()  # its store opens with it
    return client


def _under_ddl_race(open_client: Callable[[], MlflowClient], *uris: str) -> MlflowClient:
    """``open_client()``, again after a moment if it lost a table-creation race.

    Something outside the creation lock may be creating the same store's tables (an ``mlflow
    ui`` on the workspace's file, an older jupyter-mlops): MLflow then fails with "table ...
    already exists". The tables are there once the other side is done, so a second look finds
    them and creates nothing.
    """
    import sqlalchemy

    for attempt in range(5):
        try:
            return open_client()
        except sqlalchemy.exc.OperationalError as exc:
            if "already exists" not in str(exc) or attempt == 4:
                raise
            _dispose_engines(*uris)
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def _dispose_engines(*uris: str) -> None:
    """Close the pooled connections MLflow keeps per database URI (tracking and registry)."""
    from mlflow.store.model_registry.sqlalchemy_store import (
        SqlAlchemyStore as RegistrySqlStore,
    )
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    for uri in uris:
        for store in (SqlAlchemyStore, RegistrySqlStore):
            engine = store._engine_map.get(uri)
            if engine is not None:
                engine.dispose()


def _display_uri(uri: str) -> str:
    """A URI with its password hidden."""
    if "://" not in uri or "@" not in uri:
        return uri
    import sqlalchemy

    try:
        return sqlalchemy.engine.make_url(uri).render_as_string(hide_password=True)
    except sqlalchemy.exc.ArgumentError:
        return uri.split("://", 1)[0] + "://***"


def _probe_database(uri: str) -> bool:
    """Connect once with a short timeout, so that a wrong URI fails fast and says why; True when
    the database holds MLflow's tables.

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
        with engine.connect() as con:
            return sqlalchemy.inspect(con).has_table("experiments")
    except sqlalchemy.exc.SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        where = url.render_as_string(hide_password=True)
        raise BackendUnavailable(
            f"Cannot connect to the tracking database {where}: {reason}", hint=hint
        ) from None
    finally:
        engine.dispose()
