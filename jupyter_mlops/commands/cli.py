"""``jupyter mlops ...``: the terminal face of the command tree."""

from __future__ import annotations

import os
import sys

from jupyter_mlops.commands.context import Context
from jupyter_mlops.commands.handlers import execute
from jupyter_mlops.commands.parser import HelpShown, UsageError, parse
from jupyter_mlops.errors import MlopsError


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``jupyter mlops`` (and ``jupyter-mlops``). Returns the exit code."""
    # MLflow logs INFO lines (database migrations, ...) that are noise in a terminal; a user's
    # own MLFLOW_LOGGING_LEVEL still wins.
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    try:
        args = parse(sys.argv[1:] if argv is None else argv)
        result = execute(args, Context(rich=False))
    except HelpShown:
        return 0
    except UsageError as exc:
        sys.stderr.write(f"error: {exc.message}\n")
        if exc.hint:
            sys.stderr.write(f"hint: {exc.hint}\n")
        return 2
    except MlopsError as exc:
        sys.stderr.write(f"error: {exc.message}\n")
        if exc.hint:
            sys.stderr.write(f"hint: {exc.hint}\n")
        return 1
    except KeyboardInterrupt:
        return 130
    sys.stdout.write((result.dumps() if args.json else result.to_text()) + "\n")
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
