"""The values table of charts/orderflow/README.md, generated from values.yaml's `# --` comments.

Regenerate after changing values.yaml:  .venv/bin/python -m tests.chart.values_doc --write
(test_values.py fails while the README and values.yaml disagree).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import yaml

CHART = Path(__file__).resolve().parents[2] / "charts" / "orderflow"
BEGIN, END = "<!-- values:begin -->", "<!-- values:end -->"


def documented_values(values_yaml: str) -> list[tuple[str, str, str]]:
    """(dotted key, default as JSON, description) for every key preceded by a `# --` comment."""
    data = yaml.safe_load(values_yaml)
    rows: list[tuple[str, str, str]] = []
    stack: list[tuple[int, str]] = []
    comment: list[str] = []
    for line in values_yaml.splitlines():
        stripped = line.strip()
        if stripped.startswith("# --"):
            comment = [stripped[4:].strip()]
            continue
        if stripped.startswith("#") and comment:
            comment.append(stripped[1:].strip())
            continue
        match = re.match(r"^(\s*)([A-Za-z_][\w-]*):", line)
        if not match:
            if stripped:
                comment = []
            continue
        indent, key = len(match.group(1)), match.group(2)
        stack = [(i, k) for i, k in stack if i < indent]
        stack.append((indent, key))
        if comment:
            path = [k for _, k in stack]
            value = data
            for part in path:
                value = value[part]
            rows.append((".".join(path), json.dumps(value), " ".join(comment)))
            comment = []
    return rows


def table(rows: list[tuple[str, str, str]]) -> str:
    lines = ["| Key | Default | Description |", "|---|---|---|"]
    for key, default, description in rows:
        cell, text = default.replace("|", "\\|"), description.replace("|", "\\|")
        lines.append(f"| `{key}` | `{cell}` | {text} |")
    return "\n".join(lines)


def render_readme(readme: str, values_yaml: str) -> str:
    """The README with the text between the markers replaced by a fresh table."""
    head, rest = readme.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{table(documented_values(values_yaml))}\n{END}{tail}"


def main() -> int:
    readme_path = CHART / "README.md"
    fresh = render_readme(readme_path.read_text(), (CHART / "values.yaml").read_text())
    if "--write" in sys.argv:
        readme_path.write_text(fresh)
    else:
        print(fresh)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
