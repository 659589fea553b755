"""A slot of the local job executor: ``python -m jupyter_mlops.commands.jobworker ROOT SLOT``.

Started detached by :meth:`jupyter_mlops.jobs.Jobs.ensure_workers`; see
:mod:`jupyter_mlops.jobs.worker` for what it does. It lives with the faces because it opens the
workspace.
"""

from __future__ import annotations

import sys

from jupyter_mlops.process import detach


def main(argv: list[str] | None = None) -> int:
    args = detach(list(sys.argv[1:] if argv is None else argv))
    if len(args) != 2:
        sys.stderr.write("usage: python -m jupyter_mlops.commands.jobworker WORKSPACE SLOT\n")
        return 2
    from jupyter_mlops.jobs.worker import serve_slot
    from jupyter_mlops.workspace import Workspace

    ws = Workspace.open(args[0])
    jobs = ws.jobs
    return serve_slot(
        jobs.store,
        ws.root,
        args[1],
        tracking_factory=lambda: ws.tracking,
        requeue=ws.config.jobs.requeue_interrupted,
        idle_exit=ws.config.jobs.idle_exit_seconds,
        output_dir=ws.config.jobs.output_dir,
    )


if __name__ == "__main__":
    sys.exit(main())
