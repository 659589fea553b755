"""What a command returns, rendered as text, JSON, or richly in a notebook."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from jupyter_mlops.tracking.schemas import Comparison


class Result:
    """Base result: a message and machine-readable data.

    ``exit_code`` is what the CLI exits with: non-zero when the command ran but its check did
    not pass (a promotion gate failed), so scripts and CI can act on it.
    """

    exit_code: int = 0
    # What the magic returns (``preds = %mlops predict ...``); None: display only.
    value: Any = None

    def to_text(self) -> str:
        raise NotImplementedError

    def to_json(self) -> Any:
        raise NotImplementedError

    def display(self) -> None:
        """Show the result in a notebook."""
        from IPython.display import display

        display(self)

    def _repr_markdown_(self) -> str:
        return "```\n" + self.to_text() + "\n```"

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, default=str)


@dataclass
class Message(Result):
    """A sentence, with optional data for ``--json``."""

    text: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_text(self) -> str:
        return self.text

    def to_json(self) -> Any:
        return {"message": self.text, **self.data}

    def _repr_markdown_(self) -> str:
        return self.text


@dataclass
class Table(Result):
    """Rows as a DataFrame, with an optional footer line."""

    frame: pd.DataFrame
    title: str = ""
    footer: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def to_text(self) -> str:
        body = self.frame.to_string(index=False) if len(self.frame) else "(no rows)"
        parts = [p for p in (self.title, body, self.footer) if p]
        return "\n".join(parts)

    def to_json(self) -> Any:
        rows = json.loads(self.frame.to_json(orient="records", date_format="iso"))
        return {**self.data, "rows": rows}

    def display(self) -> None:
        from IPython.display import Markdown, display

        if self.title:
            display(Markdown(f"**{self.title}**"))
        display(self.frame)
        if self.footer:
            display(Markdown(self.footer))


@dataclass
class ComparisonResult(Result):
    """A comparison: the diff table, seed groups and charts."""

    comparison: Comparison

    def table(self) -> pd.DataFrame:
        import pandas as pd

        c = self.comparison
        columns = [r.run_name or r.run_id[:8] for r in c.runs]
        rows: list[tuple[object, ...]] = [("param", p.name, *p.values) for p in c.params]
        rows += [("metric", m.name, *m.values) for m in c.metrics]
        frame = pd.DataFrame(rows, columns=["kind", "name", *columns])
        return frame.set_index(["kind", "name"])

    def groups(self) -> pd.DataFrame | None:
        import pandas as pd

        if self.comparison.groups is None:
            return None
        rows = []
        for g in self.comparison.groups:
            label = ", ".join(f"{k}={v}" for k, v in g.key.items()) or "(all)"
            for m in g.metrics:
                rows.append(
                    {
                        "group": label,
                        "runs": len(g.run_ids),
                        "metric": m.name,
                        "mean": m.mean,
                        "ci95_low": m.ci_low,
                        "ci95_high": m.ci_high,
                        "std": m.std,
                    }
                )
        return pd.DataFrame(rows)

    def to_text(self) -> str:
        out = [self.table().to_string()]
        groups = self.groups()
        if groups is not None:
            out += ["", f"Grouped by seed ({self.comparison.seed_param}), mean and 95% interval:"]
            out.append(groups.to_string(index=False))
        return "\n".join(out)

    def to_json(self) -> Any:
        return self.comparison.model_dump(mode="json")

    def display(self) -> None:
        from IPython.display import Markdown, display

        display(self.table())
        groups = self.groups()
        if groups is not None:
            display(Markdown(f"Grouped by seed (`{self.comparison.seed_param}`): mean, 95% CI"))
            display(groups)
        if self.comparison.figures:
            import plotly.graph_objects as go

            for fig in self.comparison.figures.values():
                display(go.Figure(fig))


@dataclass
class Detail(Result):
    """One thing described: facts (label and value), preformatted text, then named tables.

    ``data`` is what ``--json`` prints, usually the service's pydantic model dumped as JSON, so
    the terminal and the REST API say the same thing.
    """

    title: str
    facts: list[tuple[str, str]] = field(default_factory=list)
    text: str = ""
    tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)
    data: Any = None

    def to_text(self) -> str:
        out = [self.title]
        width = max((len(label) for label, _ in self.facts), default=0)
        out += [f"  {label + ':':<{width + 1}} {value}" for label, value in self.facts]
        if self.text:
            out += ["", self.text]
        for heading, frame in self.tables:
            body = frame.to_string(index=False) if len(frame) else "(none)"
            out += ["", f"{heading}:", body]
        return "\n".join(out)

    def to_json(self) -> Any:
        return self.data

    def display(self) -> None:
        from IPython.display import Markdown, display

        lines = [f"**{self.title}**", ""]
        lines += [f"- {label}: `{value}`" for label, value in self.facts]
        if self.text:
            lines += ["", "```", self.text, "```"]
        display(Markdown("\n".join(lines)))
        for heading, frame in self.tables:
            display(Markdown(f"*{heading}*"))
            display(frame)
