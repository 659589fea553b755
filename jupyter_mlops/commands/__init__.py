"""One command tree for the ``jupyter mlops`` CLI and the ``%mlops`` magic."""
