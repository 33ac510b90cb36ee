"""Rebuild docs/benchmarks.md: the summary of targets (docs/benchmarks/SUMMARY.md) followed by
every benchmark script's figures (docs/benchmarks/<name>.md, headings demoted one level).

Usage: ``python benchmarks/collect_docs.py`` after running any benchmark script.
"""

from __future__ import annotations

from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"
ORDER = ("forecasting", "placement", "routing_solvers", "routing_network", "pipeline")


def main() -> None:
    parts = [(DOCS / "benchmarks" / "SUMMARY.md").read_text().rstrip() + "\n"]
    names = [n for n in ORDER if (DOCS / "benchmarks" / f"{n}.md").exists()]
    names += sorted(
        p.stem
        for p in (DOCS / "benchmarks").glob("*.md")
        if p.stem not in ORDER and p.stem != "SUMMARY"
    )
    for name in names:
        text = (DOCS / "benchmarks" / f"{name}.md").read_text()
        lines = [("#" + ln if ln.startswith("#") else ln) for ln in text.splitlines()]
        parts.append(f"\n<!-- from docs/benchmarks/{name}.md -->\n" + "\n".join(lines) + "\n")
    (DOCS / "benchmarks.md").write_text("\n".join(parts))
    print(f"wrote {DOCS / 'benchmarks.md'} from {', '.join(names)}")


if __name__ == "__main__":
    main()
