"""Where a benchmark's figures go: its own region of docs/benchmarks.md."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "benchmarks.md"
#: New regions go before this section, the last of the document.
BEFORE_HEADING = "## Figures that used to live in the code"


def write_region(name: str, report: str, docs: Path = DOCS) -> None:
    """Put ``report`` between ``<!-- <name>:start -->`` and ``<!-- <name>:end -->``,
    replacing what an earlier run wrote there; a first run adds the region."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    document = docs.read_text()
    region = f"{start}\n{report.rstrip()}\n{end}"
    if start in document and end in document:
        before, rest = document.split(start, 1)
        _old, after = rest.split(end, 1)
        document = before + region + after
    elif BEFORE_HEADING in document:
        before, after = document.split(BEFORE_HEADING, 1)
        document = before + region + "\n\n" + BEFORE_HEADING + after
    else:
        document = document.rstrip() + "\n\n" + region + "\n"
    docs.write_text(document)
