"""The README is a short front page whose two commands and links hold; the experiment log keeps
one dated heading per entry."""
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = ["README.md", "docs/design.md", "docs/experiments.md", "docs/adding-a-board.md",
        "docs/adding-a-target.md"]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    return {_anchor(m.group(1)) for m in re.finditer(r"^#+ (.+)$", path.read_text(), re.M)}


def test_readme_is_a_front_page_with_the_two_commands():
    text = (REPO / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    assert "bash scripts/setup.sh && .venv/bin/python scripts/run.py --target cortex-m7 --qemu" in text
    assert "bash scripts/setup.sh && .venv/bin/python -m pytest -q" in text
    assert ".venv/bin/python -m pytest -q" in (REPO / ".ci" / "run").read_text()  # CI runs that command


@pytest.mark.parametrize("doc", DOCS)
def test_links_to_docs_and_their_headings_exist(doc):
    """Every relative link from a doc into README.md or docs/ names a file and heading that exist."""
    src = REPO / doc
    checked = 0
    for target in LINK.findall(src.read_text()):
        if "://" in target:
            continue
        file_part, _, anchor = target.partition("#")
        dest = (src.parent / file_part).resolve() if file_part else src
        if dest != REPO / "README.md" and dest.parent != REPO / "docs":
            continue  # links into the code tree are checked by whoever owns those files
        assert dest.is_file(), f"{doc}: link to missing {target}"
        if anchor:
            assert anchor in _anchors(dest), f"{doc}: no heading for #{anchor} in {dest.name}"
        checked += 1
    assert checked > 0, f"{doc} links to no other doc"


def test_experiment_log_has_one_dated_heading_per_entry():
    text = (REPO / "docs" / "experiments.md").read_text()
    headings = re.findall(r"^## (.+)$", text, re.M)
    assert len(headings) >= 10
    for h in headings:
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}: \S.*", h), f"experiment heading without a date: {h!r}"
    dates = [h[:10] for h in headings]
    assert dates == sorted(dates), "entries are appended in date order"
    for entry in re.split(r"^## ", text, flags=re.M)[1:]:
        assert "**Command.**" in entry and "**Result.**" in entry, entry.splitlines()[0]


def test_code_points_at_docs_not_readme_sections():
    """Comments and help texts cite docs/design.md or docs/experiments.md, not README sections."""
    bad = []
    for folder in ("edgekit", "scripts", "firmware_templates", "targets"):
        for path in (REPO / folder).rglob("*"):
            if path.suffix in {".py", ".c", ".h", ".toml", ".S"}:
                for i, line in enumerate(path.read_text().splitlines(), 1):
                    if re.search(r"README\s*[,\"(]", line) or "(README" in line:
                        bad.append(f"{path.relative_to(REPO)}:{i}: {line.strip()}")
    assert not bad, "\n".join(bad)
