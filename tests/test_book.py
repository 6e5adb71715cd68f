"""The book runs in three places (the book build, ``pytest --nbmake``, Colab) from one repository address.

The address lives in _config.yml's ``repository.url``; every chapter carries the same remove-cell install cell
(its ``REPOSITORY`` equal to that address) and Colab/Binder badges that open its own paired notebook. The install
cell is executed in a fresh interpreter with the package reported missing: outside Colab it must stop with the
set-up command, in Colab with a failing pip it must stop naming the repository (not fail two cells later on an
import). _toc.yml and book/*.md must list the same pages (``only_build_toc_files`` drops an unlisted page silently).

Each check is a function of the repository root returning its problems, so the tests also run it on a mutated
copy and require it to report the mutation: a check that cannot fail is no check.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
URL = re.compile(r"""https?://[^\s)\]>"'`<]+""")
# Addresses naming a repository: Colab's GitHub loader, Binder's GitHub launcher, GitHub itself.
COLAB = re.compile(r"colab\.research\.google\.com/github/([^/]+)/([^/]+)/blob/([^/]+)/(\S+)")
BINDER = re.compile(r"mybinder\.org/v2/gh/([^/]+)/([^/?]+)/([^?]+)\?labpath=(\S+)")
GITHUB = re.compile(r"github\.com/([^/]+)/([^/#?]+)")
# Badge pictures, not repositories.
BADGE_IMAGES = ("colab.research.google.com/assets/", "mybinder.org/badge_logo.svg")


def config(root: Path) -> dict:
    return yaml.safe_load((root / "_config.yml").read_text())["repository"]


def chapters(root: Path) -> list[Path]:
    return sorted((root / "book").glob("[0-9][0-9]_*.md"))


def install_cell(chapter: Path) -> str | None:
    """The chapter's install cell (the code cell defining REPOSITORY) as written, MyST header included."""
    cells = [cell for cell in CELL.findall(chapter.read_text()) if "REPOSITORY = " in cell]
    return cells[0] if len(cells) == 1 else None


def cell_source(cell: str) -> str:
    """The cell's Python source: its MyST header (``:tags: ...`` lines, then a blank line) stripped."""
    lines = cell.splitlines()
    while lines and (lines[0].startswith(":") or not lines[0].strip()):
        lines.pop(0)
    return "\n".join(lines) + "\n"


def install_cell_problems(root: Path) -> list[str]:
    """Every chapter has exactly one install cell, tagged remove-cell, byte-identical to the others, whose
    REPOSITORY is _config.yml's repository.url."""
    url, problems, first = config(root)["url"], [], None
    if not chapters(root):
        problems.append(f"no chapters book/NN_*.md under {root}")
    for chapter in chapters(root):
        cell = install_cell(chapter)
        if cell is None:
            problems.append(f"{chapter.name}: not exactly one code cell defining REPOSITORY")
            continue
        if not cell.startswith(":tags: [remove-cell]\n"):
            problems.append(f"{chapter.name}: the install cell is not tagged remove-cell")
        defined = re.findall(r'^REPOSITORY = "([^"]*)"$', cell, re.MULTILINE)
        if defined != [url]:
            problems.append(f"{chapter.name}: REPOSITORY = {defined} is not _config.yml's repository.url {url!r}")
        if first is None:
            first = (chapter.name, cell)
        elif cell != first[1]:
            problems.append(f"{chapter.name}: the install cell differs from {first[0]}'s")
    return problems


def address_problems(root: Path) -> list[str]:
    """Every Colab and Binder address, and every GitHub address of this project (a repository named like
    beatssl), in book/*.md, README.md and pyproject.toml names _config.yml's repository (and branch, for the
    launchers). Other projects' GitHub pages (cited code) are left alone."""
    repository = config(root)
    owner, name = GITHUB.search(repository["url"]).groups()
    branch = repository.get("branch", "main")
    files = sorted((root / "book").glob("*.md")) + [root / "README.md", root / "pyproject.toml"]
    problems = []
    for path in files:
        if not path.is_file():
            continue
        for address in URL.findall(path.read_text()):
            where = f"{path.relative_to(root)}: {address}"
            if any(image in address for image in BADGE_IMAGES):
                continue
            launcher = COLAB.search(address) or BINDER.search(address)
            if launcher:
                if launcher.group(1, 2, 3) != (owner, name, branch):
                    problems.append(f"{where} does not open {owner}/{name} at branch {branch}")
            elif "colab.research.google.com" in address or "mybinder.org" in address:
                problems.append(f"{where}: a launcher address that names no notebook of the repository")
            elif (found := GITHUB.search(address)) and "beatssl" in "/".join(found.groups()).lower():
                if found.groups() != (owner, name.removesuffix(".git")):
                    problems.append(f"{where} is not the repository {repository['url']}")
    return problems


def badge_problems(root: Path) -> list[str]:
    """Each chapter has one Colab and one Binder badge, both opening its own paired notebook."""
    problems = []
    for chapter in chapters(root):
        text = chapter.read_text()
        notebook = f"notebooks/{chapter.stem}.ipynb"
        colab = [m.group(4).rstrip(")") for m in COLAB.finditer(text)]
        binder = [m.group(4).rstrip(")").replace("%2F", "/") for m in BINDER.finditer(text)]
        if colab != [notebook]:
            problems.append(f"{chapter.name}: Colab badge(s) open {colab}, expected [{notebook!r}]")
        if binder != [notebook]:
            problems.append(f"{chapter.name}: Binder badge(s) open {binder}, expected [{notebook!r}]")
        if not (root / notebook).is_file():
            problems.append(f"{chapter.name}: its badges open {notebook}, which does not exist")
    return problems


def toc_files(root: Path) -> list[str]:
    """Every file _toc.yml names (root, parts, chapters, sections at any depth), without extension."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            for key in ("root", "file"):
                if isinstance(node.get(key), str):
                    found.append(str(Path(node[key]).with_suffix("")) if node[key].endswith(".md") else node[key])
            for value in node.values():
                if isinstance(value, (list, dict)):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(yaml.safe_load((root / "_toc.yml").read_text()))
    return found


def toc_problems(root: Path) -> list[str]:
    """_toc.yml and book/*.md name the same pages, each once, the numbered chapters in their numeric order."""
    listed = toc_files(root)
    pages = {f"book/{path.stem}" for path in (root / "book").glob("*.md")}
    problems = [f"book/{page.removeprefix('book/')}.md is not in _toc.yml (only_build_toc_files drops it)"
                for page in sorted(pages - set(listed))]
    problems += [f"_toc.yml names {entry}, which has no {entry}.md" for entry in listed if entry not in pages]
    problems += [f"_toc.yml names {entry} {listed.count(entry)} times" for entry in sorted(set(listed))
                 if listed.count(entry) > 1]
    numbered = [entry for entry in listed if re.fullmatch(r"book/\d\d_.+", entry)]
    if numbered != sorted(numbered):
        problems.append(f"_toc.yml lists the numbered chapters out of order: {numbered}")
    return problems


# --- running the install cell in a fresh interpreter --------------------------------------------------------------

_HARNESS = textwrap.dedent("""
    import importlib.util, json, subprocess, sys, types

    source, colab, pip_rc = sys.argv[1], sys.argv[2] == "colab", int(sys.argv[3])
    real_find_spec, calls = importlib.util.find_spec, []
    importlib.util.find_spec = lambda name, *a, **k: None if name == "beatssl_lite" else real_find_spec(name, *a, **k)
    sys.modules.pop("google.colab", None)
    if colab:
        sys.modules["google"] = types.ModuleType("google")
        sys.modules["google.colab"] = types.ModuleType("google.colab")

    def fake_run(command, *args, **kwargs):
        calls.append(list(command))
        return subprocess.CompletedProcess(command, pip_rc, stdout="", stderr="ERROR: simulated pip failure")

    subprocess.run = fake_run
    try:
        exec(compile(source, "<install cell>", "exec"), {"__name__": "__main__"})
        outcome = {"raised": None, "message": ""}
    except BaseException as error:
        outcome = {"raised": type(error).__name__, "message": str(error)}
    outcome["pip_calls"] = calls
    print(json.dumps(outcome))
""")


def run_install_cell(source: str, colab: bool, pip_rc: int = 1) -> dict:
    """Execute ``source`` in a fresh interpreter that finds no beatssl_lite; with ``colab``, google.colab is
    imported and pip (subprocess.run) returns ``pip_rc``. What it raised, its message, the commands it ran."""
    done = subprocess.run([sys.executable, "-c", _HARNESS, source, "colab" if colab else "local", str(pip_rc)],
                          capture_output=True, text=True, timeout=60, cwd=REPO)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


CHAPTERS = [path.name for path in chapters(REPO)]


def _source(name: str) -> str:
    cell = install_cell(REPO / "book" / name)
    assert cell is not None, f"{name}: no single install cell"
    return cell_source(cell)


@pytest.mark.parametrize("name", CHAPTERS)
def test_install_cell_without_the_package_names_the_setup_command(name):
    outcome = run_install_cell(_source(name), colab=False)
    assert outcome["raised"] == "ModuleNotFoundError", outcome
    assert "make setup" in outcome["message"]
    assert config(REPO)["url"] in outcome["message"]
    assert outcome["pip_calls"] == []  # outside Colab it never installs anything itself


@pytest.mark.parametrize("name", CHAPTERS)
def test_install_cell_in_colab_stops_when_pip_fails(name):
    url = config(REPO)["url"]
    outcome = run_install_cell(_source(name), colab=True, pip_rc=1)
    assert outcome["raised"] == "RuntimeError", outcome
    assert url in outcome["message"]
    assert "simulated pip failure" in outcome["message"]  # pip's own message is passed on
    assert [call[-1] for call in outcome["pip_calls"]] == [f"git+{url}"]


def test_install_cell_in_colab_goes_on_when_pip_succeeds():
    url = config(REPO)["url"]
    outcome = run_install_cell(_source(CHAPTERS[0]), colab=True, pip_rc=0)
    assert outcome["raised"] is None, outcome
    (call,) = outcome["pip_calls"]
    assert call[1:4] == ["-m", "pip", "install"] and call[-1] == f"git+{url}"


# --- the static checks, on the repository and on mutated copies ---------------------------------------------------

def test_install_cells_identical_and_pointing_at_the_configured_repository():
    assert install_cell_problems(REPO) == []


def test_every_repository_address_is_the_configured_one():
    assert address_problems(REPO) == []


def test_each_chapter_badges_open_its_own_notebook():
    assert badge_problems(REPO) == []


def test_toc_and_book_pages_agree():
    assert toc_problems(REPO) == []


@pytest.fixture
def copy(tmp_path) -> Path:
    """A copy of what the checks read: _config.yml, _toc.yml, README.md, pyproject.toml, book/*.md, notebooks/."""
    for name in ("_config.yml", "_toc.yml", "README.md", "pyproject.toml"):
        shutil.copy(REPO / name, tmp_path / name)
    (tmp_path / "book").mkdir()
    for page in (REPO / "book").glob("*.md"):
        shutil.copy(page, tmp_path / "book" / page.name)
    shutil.copytree(REPO / "notebooks", tmp_path / "notebooks", ignore=shutil.ignore_patterns(".*"))
    return tmp_path


def _edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, count))


def test_the_checks_report_mutations(copy):
    first, last = chapters(copy)[0], chapters(copy)[-1]
    url = config(copy)["url"]
    assert not (install_cell_problems(copy) or address_problems(copy) or badge_problems(copy) or toc_problems(copy))

    _edit(last, "capture_output=True", "capture_output=True ")  # one byte in one chapter's install cell
    assert any(last.name in p and "differs" in p for p in install_cell_problems(copy))
    _edit(last, "capture_output=True ", "capture_output=True")

    _edit(copy / "_config.yml", f"url: {url}", "url: https://github.com/someone-else/beatssl_lite")
    assert len(install_cell_problems(copy)) == len(chapters(copy))  # every REPOSITORY now disagrees
    assert address_problems(copy)  # and every badge and the README's clone address
    _edit(copy / "_config.yml", "url: https://github.com/someone-else/beatssl_lite", f"url: {url}")

    _edit(copy / "README.md", f"git clone {url}", f"git clone {url}-fork")
    assert any("README.md" in p for p in address_problems(copy))
    _edit(copy / "README.md", f"git clone {url}-fork", f"git clone {url}")

    _edit(first, f"{first.stem}.ipynb", f"{last.stem}.ipynb", count=2)  # both badges open another chapter
    assert len(badge_problems(copy)) == 2
    _edit(first, "mybinder.org/v2/gh/beatssl-lite", "mybinder.org/v2/gh/beatssl-light")
    assert any("does not open" in p for p in address_problems(copy))

    (copy / "book" / "99_unlisted.md").write_text("# Unlisted\n")
    assert any("99_unlisted.md is not in _toc.yml" in p for p in toc_problems(copy))
    (copy / "book" / "99_unlisted.md").unlink()
    _edit(copy / "_toc.yml", "file: book/references", "file: book/references\n      - file: book/missing")
    assert any("book/missing" in p for p in toc_problems(copy))


def test_a_broken_install_cell_is_caught():
    """The behaviour tests fail on a cell that swallows pip's failure or forgets the set-up command."""
    source = _source(CHAPTERS[0])
    swallowed = source.replace("if install.returncode != 0:", "if False:")
    assert swallowed != source
    assert run_install_cell(swallowed, colab=True, pip_rc=1)["raised"] is None
    silent = source.replace("run `make setup` in a clone of", "clone")
    assert silent != source
    assert "make setup" not in run_install_cell(silent, colab=False)["message"]
