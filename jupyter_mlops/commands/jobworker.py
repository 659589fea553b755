"""A job worker: ``python -m jupyter_mlops.commands.jobworker ROOT SLOT``.

Started detached by :meth:`jupyter_mlops.jobs.Jobs.ensure_workers`. SLOT ``slot-N`` is a slot
of the local executor (see :mod:`jupyter_mlops.jobs.worker`); SLOT ``dask`` is the dispatcher
that runs the queue on the Dask cluster of ``[jobs] executor`` (see
:mod:`jupyter_mlops.jobs.dask_executor`). It lives with the faces because it opens the workspace.
"""

from __future__ import annotations

import sys

from jupyter_mlops.process import detach


def main(argv: list[str] | None = None) -> int:
    args = detach(list(sys.argv[1:] if argv is None else argv))
    if len(args) != 2:
        sys.stderr.write("usage: python -m jupyter_mlops.commands.jobworker WORKSPACE SLOT\n")
        return 2
    from jupyter_mlops.jobs.worker import slot_lock
    from jupyter_mlops.workspace import Workspace

    ws = Workspace.open(args[0])
    # The slot's lock first, before MLflow's seconds of imports: a second start for the slot (a
    # submit and a wait can both ask while the first worker still imports) leaves at once.
    lock = slot_lock(ws.state_dir / "jobs" / "workers", args[1])
    if lock is None:
        return 0  # another worker serves this slot
    jobs = ws.jobs
    config = ws.config.jobs
    if args[1] == "dask":
        from jupyter_mlops.jobs.dask_executor import serve_dask

        return serve_dask(
            jobs.store,
            ws.root,
            executor=config.executor,
            tracking_factory=lambda: ws.tracking,
            tracking_uri=ws.tracking_uri,
            artifact_location=ws.artifact_location,
            experiment=config.experiment or ws.config.tracking.default_experiment,
            requeue=config.requeue_interrupted,
            idle_exit=config.idle_exit_seconds,
            output_dir=config.output_dir,
            lock_fd=lock,
        )
    from jupyter_mlops.jobs.worker import serve_slot

    return serve_slot(
        jobs.store,
        ws.root,
        args[1],
        tracking_factory=lambda: ws.tracking,
        requeue=config.requeue_interrupted,
        idle_exit=config.idle_exit_seconds,
        output_dir=config.output_dir,
        lock_fd=lock,
    )


if __name__ == "__main__":
    sys.exit(main())
