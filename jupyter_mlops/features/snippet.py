"""The notebook cell that builds a training frame from chosen features (the panel's Insert)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from jupyter_mlops.features.registry import ResolvedView
from jupyter_mlops.features.schemas import Snippet

DEFAULT_TIMESTAMP = "event_timestamp"


def training_snippet(resolved: Sequence[ResolvedView]) -> Snippet:
    """A ready-to-run cell: ``get_training_frame`` with the references pinned to their versions."""
    pinned = [ref for rv in resolved for ref in rv.refs()]
    keys = list(dict.fromkeys(k for rv in resolved for k in rv.view.join_keys))
    stamps = list(dict.fromkeys(rv.view.definition.timestamp_field for rv in resolved))
    # The entity frame's time column is a free choice; the views' own name is the natural one.
    timestamp = stamps[0] if len(stamps) == 1 else DEFAULT_TIMESTAMP
    names = [f.name for rv in resolved for f in rv.features]
    options = []
    if timestamp != DEFAULT_TIMESTAMP:
        options.append(f"    timestamp_column={json.dumps(timestamp)},")
    if len(set(names)) != len(names):
        options.append("    full_names=True,  # two views share a feature name: <view>__<feature>")
    key_text = ", ".join(keys)
    lines = [
        "from jupyter_mlops import Workspace",
        "",
        "ws = Workspace.find()",
        f"# entity_df: a pandas DataFrame with one row per example: the join key column(s)"
        f" {key_text}",
        f"# and a timestamp column {timestamp}; each feature is taken as of that time.",
        "frame = ws.features.get_training_frame(",
        "    entity_df,",
        "    features=[",
        *(f"        {json.dumps(ref)}," for ref in pinned),
        "    ],",
        *options,
        ")",
        "frame.head()",
    ]
    return Snippet(code="\n".join(lines) + "\n", features=pinned)
