"""The workspace's scheduler process: ``python -m jupyter_mlops.commands.scheduler ROOT``.

Started detached by :meth:`jupyter_mlops.monitoring.Monitoring.ensure_scheduler`; see
:mod:`jupyter_mlops.monitoring.scheduler` for what it does. It lives with the faces because it
opens the workspace.
"""

from __future__ import annotations

import sys

from jupyter_mlops.process import detach


def main(argv: list[str] | None = None) -> int:
    args = detach(list(sys.argv[1:] if argv is None else argv))
    if len(args) != 1:
        sys.stderr.write("usage: python -m jupyter_mlops.commands.scheduler WORKSPACE\n")
        return 2
    from jupyter_mlops.monitoring.scheduler import run
    from jupyter_mlops.workspace import Workspace

    ws = Workspace.open(args[0])
    monitoring = ws.monitoring

    pipelines = ws.pipelines

    def any_running() -> bool:
        return pipelines.watching() or any(
            d.state in ("running", "degraded", "updating", "starting")
            for d in ws.deployments.list()
        )

    return run(
        monitoring.scheduler.folder,
        str(ws.root),
        due=monitoring.due,
        check=monitoring.check,
        any_running=any_running,
        also=pipelines.tick,
    )


if __name__ == "__main__":
    sys.exit(main())
