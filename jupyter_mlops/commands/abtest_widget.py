"""A live A/B test in a notebook: ``%mlops ab watch churn`` or ``ab_widget("churn")``.

The widget shows what ``ab status`` says, and keeps it current: the units per variant and how many
the test needs, the verdict in plain words, the effect with its always-valid interval, the
sequential p-value (and the fixed-horizon one with the warning about peeking), a sample-ratio
mismatch, the guardrails. Its buttons decide: "Promote challenger" or "Keep champion" asks for a
confirmation, then calls :meth:`~jupyter_mlops.abtest.service.ABTests.stop` and shows the decision.

A daemon thread re-reads the status every ``refresh_seconds``; it ends when the widget is closed,
when the test stops (decided here or anywhere else), or when :meth:`AbWatch.stop` is called. The
HTML pieces are the A/B report's (:mod:`jupyter_mlops.dashboards.abtest`), so the notebook and
the stakeholders' page say the same thing.
"""

from __future__ import annotations

import html
import threading
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets  # type: ignore[import-untyped]

from jupyter_mlops.dashboards.abtest import (
    STYLE,
    counts_html,
    decision_html,
    facts_html,
    guardrails_html,
    stats_html,
    verdict_html,
)
from jupyter_mlops.errors import InvalidInput, MlopsError
from jupyter_mlops.timestamps import utc_now

if TYPE_CHECKING:
    from jupyter_mlops.abtest.schemas import AbStatus, Winner
    from jupyter_mlops.abtest.service import ABTests

REFRESH_SECONDS = 5.0


class AbWatch(widgets.VBox):  # type: ignore[misc]
    """The live widget of one deployment's A/B test (a ``VBox``).

    Example:
        >>> w = AbWatch(Workspace.find().abtests, "churn")  # doctest: +SKIP
        >>> w.start(); w                                     # doctest: +SKIP
    """

    def __init__(
        self, abtests: ABTests, deployment: str, *, refresh_seconds: float = REFRESH_SECONDS
    ) -> None:
        # First: the widget's finaliser calls close(), even when a bad argument stops us here.
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        if not refresh_seconds > 0:
            raise InvalidInput(
                f"The refresh interval must be a positive number of seconds, not {refresh_seconds}",
                field="refresh_seconds",
            )
        self.abtests = abtests
        self.deployment = deployment
        self.refresh_seconds = refresh_seconds
        self.status: AbStatus | None = None
        self._pending: Winner | None = None
        self._lock = threading.RLock()

        self.report = widgets.HTML()
        self.report.add_class("jp-mlops-ab-report")
        self.promote_button = widgets.Button(
            description="Promote challenger", button_style="success", icon="arrow-up"
        )
        self.keep_button = widgets.Button(description="Keep champion", icon="shield")
        self.confirm_text = widgets.HTML()
        self.confirm_button = widgets.Button(description="Yes, decide", button_style="danger")
        self.cancel_button = widgets.Button(description="Cancel")
        self.confirm_row = widgets.HBox(
            [self.confirm_text, self.confirm_button, self.cancel_button]
        )
        self.confirm_row.layout.display = "none"
        self.buttons = widgets.HBox([self.promote_button, self.keep_button])
        self.note = widgets.HTML()
        self.promote_button.on_click(lambda _: self.ask("challenger"))
        self.keep_button.on_click(lambda _: self.ask("champion"))
        self.confirm_button.on_click(lambda _: self.confirm())
        self.cancel_button.on_click(lambda _: self.cancel())
        super().__init__([self.report, self.buttons, self.confirm_row, self.note])
        self.add_class("jp-mlops-AbWatch")

    # -- data -------------------------------------------------------------------------------------

    def refresh(self) -> AbStatus | None:
        """Read the test's status now and show it; a failure shows as a sentence (the next
        refresh tries again)."""
        try:
            status = self.abtests.status(self.deployment)
        except Exception as exc:  # a refresh that fails must not end the widget
            with self._lock:
                self.note.value = _problem(exc, "The last update failed: ")
            return None
        self.show(status)
        return status

    def show(self, status: AbStatus) -> None:
        with self._lock:
            self.status = status
            exp = status.experiment
            self.report.value = (
                f'{STYLE}<div class="jp-mlops-Ab"><h3>A/B test of {html.escape(exp.deployment)}'
                f"</h3>{facts_html(exp)}{decision_html(exp)}{verdict_html(status)}"
                f"{counts_html(status)}{stats_html(status)}<b>Guardrails</b>"
                f"{guardrails_html(status)}</div>"
            )
            running = exp.state == "running"
            self.promote_button.description = f"Promote challenger (v{exp.challenger})"
            self.keep_button.description = f"Keep champion (v{exp.champion})"
            self.buttons.layout.display = None if running else "none"
            if not running:
                self._pending = None
                self.confirm_row.layout.display = "none"
            every = f"updates every {self.refresh_seconds:g} s" if running else "stopped"
            self.note.value = (
                f'<span class="jp-mlops-muted">Updated {utc_now():%H:%M:%S} UTC ({every}).</span>'
            )

    # -- deciding ---------------------------------------------------------------------------------

    def ask(self, winner: Winner) -> None:
        """First step of a decision: say what it will do and wait for the confirmation."""
        with self._lock:
            exp = self.status.experiment if self.status is not None else None
            if exp is None or exp.state != "running":
                return
            self._pending = winner
            if winner == "challenger":
                what = (
                    f"Promote v{exp.challenger}: it serves {exp.deployment} alone and takes "
                    "@champion."
                )
            else:
                what = f"Keep v{exp.champion}: it serves {exp.deployment} alone; the test ends."
            self.confirm_text.value = f"<b>{html.escape(what)}</b> Sure?"
            self.confirm_button.description = (
                "Yes, promote" if winner == "challenger" else "Yes, keep"
            )
            self.confirm_row.layout.display = None

    def cancel(self) -> None:
        with self._lock:
            self._pending = None
            self.confirm_row.layout.display = "none"

    def confirm(self) -> None:
        """Second step: stop the test with the chosen winner and show the decision."""
        with self._lock:
            winner = self._pending
            if winner is None:
                return
            self._pending = None
            self.confirm_row.layout.display = "none"
            for button in (self.promote_button, self.keep_button):
                button.disabled = True
            try:
                self.abtests.stop(self.deployment, winner)
            except MlopsError as exc:
                self.note.value = _problem(exc, "Not decided: ")
                return
            finally:
                for button in (self.promote_button, self.keep_button):
                    button.disabled = False
            self.refresh()
        self._stopping.set()

    # -- the timer --------------------------------------------------------------------------------

    def start(self) -> None:
        """Refresh every ``refresh_seconds`` in a daemon thread, until closed or decided."""
        if self._thread is not None and self._thread.is_alive():
            return
        if self.status is not None and self.status.experiment.state != "running":
            return
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"mlops-ab-watch-{self.deployment}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float | None = 10.0) -> None:
        """End the refreshing; waits for the thread (harmless when it is not running)."""
        self._stopping.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    @property
    def running(self) -> bool:
        """Whether the refreshing thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def close(self) -> None:
        self.stop()
        super().close()

    def _run(self) -> None:
        while not self._stopping.wait(self.refresh_seconds):
            status = self.refresh()
            if status is not None and status.experiment.state != "running":
                return


def _problem(exc: Exception, prefix: str) -> str:
    message = exc.message if isinstance(exc, MlopsError) else f"{type(exc).__name__}: {exc}"
    hint = exc.hint if isinstance(exc, MlopsError) else None
    extra = f" {html.escape(hint)}" if hint else ""
    return f'<span class="jp-mlops-AbWarning">{html.escape(prefix + message)}</span>{extra}'


def ab_widget(
    deployment: str,
    *,
    workspace: Any = None,
    refresh_seconds: float = REFRESH_SECONDS,
) -> AbWatch:
    """A live widget of a deployment's A/B test (its running one, else its last), with buttons
    that promote the challenger or keep the champion.

    Args:
        deployment: the deployment's name.
        workspace: the :class:`~jupyter_mlops.Workspace` (default: found from here).
        refresh_seconds: how often it re-reads the test while it runs.

    Raises:
        NotFound: an unknown deployment, or one without an A/B test.

    Example:
        >>> from jupyter_mlops.commands.abtest_widget import ab_widget
        >>> ab_widget("churn")  # doctest: +SKIP
    """
    from jupyter_mlops.workspace import Workspace

    ws = workspace if workspace is not None else Workspace.find()
    watch = AbWatch(ws.abtests, deployment, refresh_seconds=refresh_seconds)
    watch.show(ws.abtests.status(deployment))  # an unknown deployment raises here, named
    watch.start()
    return watch
