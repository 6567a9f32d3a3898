"""Every Python snippet in README.md and docs/*.md runs, against the sandbox, so the docs cannot
drift from the code; their SQL runs on the warehouse ``sync_calls`` loads; every ``make`` /
``casey-flows`` command and ``python -m`` module in their bash blocks exists; every relative link
between the docs lands on a file and a heading that exist.

A snippet runs as written, in a fresh namespace, in a working directory holding the files it
names (``tests/docs/conftest.py``); top-level ``await`` works. An HTML comment on the line
before a block changes how it runs:

- ``<!-- snippet: skip reason=... -->``: not run (it needs a real key, a database server, a
  cloud bucket); reported as skipped with that reason.
- ``<!-- snippet: needs=warehouse -->``: the embedded warehouse is loaded first (``sync_calls``
  over a dozen sandbox calls).
"""

from __future__ import annotations

import ast
import asyncio
import importlib.util
import inspect
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Read for their links and commands only (their Python is not part of the user docs).
LINKED = [*DOCS, ROOT / "CHANGELOG.md", ROOT / "SECURITY.md", ROOT / "benchmarks" / "README.md"]

FENCE = re.compile(r"^```(\w*)\s*$")
MARKER = re.compile(r"^<!--\s*snippet:(?P<body>.*?)-->\s*$")
NEEDS = {"warehouse": "loaded_warehouse"}


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # of the block's first line of code, 1-based
    language: str
    code: str
    skip: str | None = None
    needs: tuple[str, ...] = field(default=())

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def parse_marker(text: str, where: str) -> tuple[str | None, tuple[str, ...]]:
    """``skip reason=...`` and/or ``needs=a,b``; anything else is a mistake in the docs."""
    skip: str | None = None
    needs: tuple[str, ...] = ()
    rest = text.strip()
    while rest:
        if rest.startswith("skip"):
            rest = rest[len("skip") :].strip()
            if not rest.startswith("reason="):
                raise ValueError(f"{where}: 'snippet: skip' needs a reason=...")
            skip, rest = rest[len("reason=") :].strip(), ""
            if not skip:
                raise ValueError(f"{where}: empty skip reason")
        elif rest.startswith("needs="):
            word, _, rest = rest[len("needs=") :].partition(" ")
            needs = tuple(word.split(","))
            unknown = set(needs) - set(NEEDS)
            if unknown:
                known = sorted(NEEDS)
                raise ValueError(f"{where}: unknown needs {sorted(unknown)}; known: {known}")
            rest = rest.strip()
        else:
            raise ValueError(f"{where}: unknown snippet marker {rest!r}")
    return skip, needs


def blocks(path: Path) -> list[Block]:
    """The fenced code blocks of a markdown file, with the marker on the line before each."""
    found: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        opened = FENCE.match(lines[i])
        if not opened:
            i += 1
            continue
        start = i + 1
        end = start
        while end < len(lines) and lines[end].rstrip() != "```":
            end += 1
        previous = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        marker = MARKER.match(previous.strip())
        where = f"{path.relative_to(ROOT)}:{start + 1}"
        skip, needs = parse_marker(marker["body"], where) if marker else (None, ())
        code = "\n".join(lines[start:end]) + "\n"
        found.append(Block(path, start + 1, opened[1], code, skip, needs))
        i = end + 1
    return found


ALL_BLOCKS = [block for path in DOCS for block in blocks(path)]
PYTHON = [block for block in ALL_BLOCKS if block.language == "python"]
SQL = [block for block in ALL_BLOCKS if block.language == "sql"]
# Commands are checked in every linked file, benchmarks/README.md's included.
BASH = [
    block for path in LINKED for block in blocks(path) if block.language in ("bash", "sh", "shell")
]


def _param(block: Block) -> Any:
    marks = [pytest.mark.skip(reason=f"{block.where}: {block.skip}")] if block.skip else []
    return pytest.param(block, id=block.where, marks=marks)


@pytest.mark.usefixtures("prefect_server")
@pytest.mark.parametrize("block", [_param(b) for b in PYTHON])
def test_python_snippet_runs(
    block: Block, snippet_workspace: Path, request: pytest.FixtureRequest
) -> None:
    for need in block.needs:
        request.getfixturevalue(NEEDS[need])
    # Padded so a traceback names the markdown file and its line.
    source = "\n" * (block.line - 1) + block.code
    code = compile(source, str(block.path), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    namespace: dict[str, Any] = {"__name__": "__snippet__"}
    if code.co_flags & inspect.CO_COROUTINE:
        asyncio.run(eval(code, namespace))
    else:
        exec(code, namespace)


@pytest.mark.parametrize("block", [_param(b) for b in SQL])
def test_sql_snippet_runs_on_the_warehouse(block: Block, loaded_warehouse: Path) -> None:
    """The SQL the docs give a data team runs on the warehouse ``sync_calls`` loads."""
    import duckdb

    with duckdb.connect(str(loaded_warehouse / "warehouse.duckdb"), read_only=True) as db:
        db.execute(block.code).fetchall()


def test_every_python_block_is_found() -> None:
    """The fence parser sees every ```python opening (a typo in a fence would hide a snippet)."""
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        assert text.count("```python\n") == sum(1 for b in PYTHON if b.path == path), (
            path.relative_to(ROOT)
        )


def test_every_marker_is_right_before_a_block() -> None:
    """A marker separated from its block by prose would silently stop applying."""
    stray = []
    for path in DOCS:
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, 1):
            if MARKER.match(line.strip()):
                following = next((ln for ln in lines[number:] if ln.strip()), "")
                if not FENCE.match(following):
                    stray.append(f"{path.relative_to(ROOT)}:{number}")
    assert not stray, f"snippet markers not followed by a code block: {stray}"


# -- bash blocks: the commands they name exist ----------------------------------------------------


# A path into this repository that a command is given (a script, a config file).
REPO_FILE = re.compile(r"(benchmarks|deployments|tests|flows|blocks)/[\w/.-]+\.(py|sh|yaml)")
PROJECT_MODULES = ("casey_flows", "deployments", "blocks", "flows", "benchmarks")


def make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([A-Za-z][\w.-]*):", text, flags=re.MULTILINE))


def commands(code: str) -> list[list[str]]:
    """Each simple command of a bash block, as words, with leading VAR=value assignments and
    comments dropped."""
    joined = re.sub(r"\\\n", " ", code)
    found: list[list[str]] = []
    for line in joined.splitlines():
        for part in re.split(r"&&|\|\||[;|&]", line):
            try:
                words = shlex.split(part, comments=True)
            except ValueError:
                continue
            while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
                words = words[1:]
            if words:
                found.append(words)
    return found


@pytest.mark.parametrize("block", [pytest.param(b, id=b.where) for b in BASH])
def test_bash_commands_exist(block: Block) -> None:
    from casey_flows.cli import build_parser

    targets = make_targets()
    for words in commands(block.code):
        program = Path(words[0]).name
        if program == "make":
            for target in (w for w in words[1:] if not w.startswith("-") and "=" not in w):
                assert target in targets, f"{block.where}: no make target {target!r}"
        elif program == "casey-flows":
            try:
                build_parser().parse_args(words[1:])
            except SystemExit as exc:
                raise AssertionError(f"{block.where}: casey-flows refuses {words[1:]}") from exc
        elif program.startswith("python") and words[1:2] == ["-m"]:
            module = words[2]
            if module.split(".")[0] in PROJECT_MODULES:
                assert importlib.util.find_spec(module), f"{block.where}: no module {module}"
        for word in words[1:]:
            if REPO_FILE.fullmatch(word):
                assert (ROOT / word).exists(), f"{block.where}: no file {word}"


# -- links between the docs -----------------------------------------------------------------------

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    result: set[str] = set()
    in_fence = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_fence = not in_fence
        if in_fence or not line.startswith("#"):
            continue
        base = slug(line.lstrip("#"))
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.add(base if count == 0 else f"{base}-{count}")
    return result


def prose(path: Path) -> str:
    """The file without its fenced code blocks."""
    kept: list[str] = []
    in_fence = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_fence = not in_fence
        elif not in_fence:
            kept.append(line)
    return "\n".join(kept)


@pytest.mark.parametrize("path", LINKED, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(path: Path) -> None:
    broken = []
    for target in LINK.findall(prose(path)):
        if re.match(r"^[a-z]+:", target):
            continue  # http(s), mailto
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target}: no heading #{anchor} in {linked.relative_to(ROOT)}")
    assert not broken, f"{path.relative_to(ROOT)}: " + "; ".join(broken)
