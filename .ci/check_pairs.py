"""Check that every chapter book/NN_*.md is in sync with its notebooks/NN_*.ipynb, and that no notebook stores outputs.

The .md is what the book renders and reviewers read; the .ipynb is what pytest/nbmake runs and Colab opens, so
the two must carry the same cells. Each .md is converted in memory with jupytext and compared cell by cell
(type, source, tags) with the stored .ipynb. Exit status 1 with one line per problem and the command that fixes it.

Usage: python .ci/check_pairs.py [REPO_ROOT]
"""

import sys
from pathlib import Path

import jupytext


def _cells(notebook):
    return [(cell.cell_type, cell.source.strip(), tuple(cell.metadata.get("tags", ()))) for cell in notebook.cells]


def check(repo: Path) -> list:
    problems = []
    chapters = sorted((repo / "book").glob("[0-9][0-9]_*.md"))
    if not chapters:
        problems.append(f"no chapters book/NN_*.md found under {repo}")
    for md in chapters:
        ipynb = repo / "notebooks" / (md.stem + ".ipynb")
        fix = f"jupytext --sync book/{md.name}"
        if not ipynb.exists():
            problems.append(f"{ipynb.relative_to(repo)} is missing: run `{fix}`")
            continue
        expected, stored = _cells(jupytext.read(md)), _cells(jupytext.read(ipynb))
        if expected != stored:
            where = next((i for i, (a, b) in enumerate(zip(expected, stored)) if a != b), min(len(expected), len(stored)))
            problems.append(
                f"book/{md.name} and {ipynb.relative_to(repo)} differ (first at cell {where}; "
                f"{len(expected)} vs {len(stored)} cells): run `{fix}`"
            )
        with_outputs = [i for i, cell in enumerate(jupytext.read(ipynb).cells) if cell.get("outputs")]
        if with_outputs:
            problems.append(
                f"{ipynb.relative_to(repo)} stores outputs in cells {with_outputs}: rewrite it without them, "
                f"`jupytext --to ipynb -o {ipynb.relative_to(repo)} book/{md.name}`"
            )
    for ipynb in sorted((repo / "notebooks").glob("*.ipynb")):
        if not (repo / "book" / (ipynb.stem + ".md")).exists():
            problems.append(f"{ipynb.relative_to(repo)} has no book/{ipynb.stem}.md: write the chapter as MyST "
                            f"and pair it (`jupytext --sync book/{ipynb.stem}.md`), or delete the notebook")
    return problems


def main() -> int:
    repo = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1])
    problems = check(repo)
    for line in problems:
        print(f"check_pairs: {line}")
    if problems:
        return 1
    print(f"check_pairs: {len(list((repo / 'book').glob('[0-9][0-9]_*.md')))} chapter(s) in sync with notebooks/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
