"""Papermill execution on a kernel that is already running, reporting progress cell by cell.

Papermill's nbclient engine accepts a started kernel manager (``km=``); nbclient then leaves the
kernel to whoever started it. The worker shuts it down after the job, so no state leaks from one
job into the next.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from papermill.engines import NBClientEngine, papermill_engines

from jupyter_mlops.jobs.cells import is_users

ENGINE_NAME = "jupyter-mlops"

#: Called after each cell with (cells done, cells in total, the next cell's index).
Progress = Callable[[int, int, int | None], None]


class ProgressEngine(NBClientEngine):  # type: ignore[misc]
    """nbclient engine that calls ``on_progress`` after each cell."""

    @classmethod
    def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, **kwargs: Any) -> Any:
        on_progress: Progress | None = kwargs.pop("on_progress", None)
        if on_progress is not None:
            # Progress counts the user's cells only: not papermill's injected parameters nor
            # our setup cell, so "cell 3 of 4" means the notebook the user wrote.
            theirs = [i for i, cell in enumerate(nb_man.nb.cells) if is_users(cell)]
            position = {index: n for n, index in enumerate(theirs)}
            total = len(theirs)
            done = 0
            complete = nb_man.cell_complete
            start = nb_man.cell_start

            def cell_start(cell: Any, cell_index: int | None = None, **kw: Any) -> Any:
                if cell_index in position:
                    on_progress(done, total, position[cell_index])
                return start(cell, cell_index, **kw)

            def cell_complete(cell: Any, cell_index: int | None = None, **kw: Any) -> Any:
                nonlocal done
                result = complete(cell, cell_index, **kw)
                if cell_index in position:
                    done += 1
                    on_progress(done, total, None)
                return result

            nb_man.cell_start = cell_start
            nb_man.cell_complete = cell_complete
        return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)


papermill_engines.register(ENGINE_NAME, ProgressEngine)
