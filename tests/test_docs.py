"""Run every ```python block of README.md and docs/**/*.md.

Blocks of one file run in order in one namespace, like a reader going through
the page; each file starts from a fresh namespace. Each block is its own test,
named by file and line, so a failure points at the block. A block fenced
```python no-test is shown to readers but not run; anything that is not meant to
run at all should use another fence (```text, ```bash).

Executing this code is safe: it is this repository's own documentation.
"""

from __future__ import annotations

import re
import shlex
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SKIP_MARKERS = {"no-test", "notest", "skip"}

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")


@dataclass(frozen=True)
class Block:
    path: Path
    index: int
    line: int  # 1-based line of the first code line in the markdown file
    code: str
    skip: bool

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(ROOT).as_posix()}:{self.line}"


def doc_files() -> list[Path]:
    files = [ROOT / "README.md"]
    docs = ROOT / "docs"
    if docs.is_dir():
        files += sorted(docs.rglob("*.md"))
    return [f for f in files if f.is_file()]


def fenced_blocks(text: str) -> list[tuple[str, int, str]]:
    """Every fenced block of markdown text as ``(info string, first code line, code)``."""
    blocks = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if m is None:
            i += 1
            continue
        fence, info, start = m["fence"], m["info"].strip(), i + 1
        j = start
        # A fence closes with the same character, at least as long, and nothing after it.
        while j < len(lines) and not (
            lines[j].strip().startswith(fence) and set(lines[j].strip()) == {fence[0]}
        ):
            j += 1
        blocks.append((info, start + 1, textwrap.dedent("\n".join(lines[start:j]))))
        i = j + 1
    return blocks


def python_blocks(path: Path) -> list[Block]:
    out = []
    for info, line, code in fenced_blocks(path.read_text(encoding="utf-8")):
        words = info.replace("{", " ").replace("}", " ").split()
        if not words or words[0].lower() not in {"python", "py"}:
            continue
        skip = any(w.lower() in SKIP_MARKERS for w in words[1:])
        out.append(Block(path, len(out), line, code, skip))
    return out


ALL_BLOCKS = [b for f in doc_files() for b in python_blocks(f)]


@dataclass
class _FileState:
    """Namespace shared by one file's blocks, and how far through the file it is."""

    namespace: dict[str, Any]
    workdir: Path
    next_index: int = 0
    failed: Block | None = None
    done: set[int] = field(default_factory=set)


_STATE: dict[Path, _FileState] = {}


def _run(block: Block, state: _FileState) -> None:
    # Padding with newlines keeps tracebacks on the markdown file's own line numbers.
    source = "\n" * (block.line - 1) + block.code
    # The real path lets tracebacks quote the markdown source.
    code = compile(source, str(block.path), "exec")
    exec(code, state.namespace)  # our own documentation, never user input


@pytest.mark.parametrize("block", ALL_BLOCKS, ids=[b.id for b in ALL_BLOCKS])
def test_doc_block(
    block: Block, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    if block.skip:
        pytest.skip("marked no-test")
    state = _STATE.get(block.path)
    if state is None:
        name = "doc_" + re.sub(r"\W", "_", block.path.stem)
        state = _STATE[block.path] = _FileState(
            namespace={"__name__": name}, workdir=tmp_path_factory.mktemp(name)
        )
    # Examples that write files write them in a scratch folder, never the repo.
    monkeypatch.chdir(state.workdir)

    if state.failed is not None and state.failed.index < block.index:
        pytest.skip(f"an earlier block failed: {state.failed.id}")
    # When run alone (pytest -k), first run the earlier blocks this one builds on.
    blocks = [b for b in python_blocks(block.path) if not b.skip]
    for earlier in blocks:
        if earlier.index >= block.index:
            break
        if earlier.index in state.done:
            continue
        try:
            _run(earlier, state)
        except Exception:
            state.failed = earlier
            pytest.skip(f"an earlier block failed: {earlier.id}")
        state.done.add(earlier.index)

    if block.index in state.done:
        return  # already ran (and passed) as a prerequisite of a later block
    try:
        _run(block, state)
    except BaseException:
        state.failed = block
        raise
    state.done.add(block.index)


def test_docs_have_python_blocks() -> None:
    # Guards the harness itself: a broken fence parser would otherwise pass by running nothing.
    assert any(b.path.name == "README.md" and not b.skip for b in ALL_BLOCKS)


def _quick_start_commands() -> list[str]:
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [
        code.strip()
        for info, _, code in fenced_blocks(section)
        if info.split()[:1] in (["bash"], ["sh"], ["console"])
    ]


def test_quick_start_is_two_commands_and_ci_runs_the_test_one() -> None:
    commands = _quick_start_commands()
    assert len(commands) == 2, commands
    assert "microgd demo" in commands[0]
    assert "pytest" in commands[1]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    # CI must run exactly what the README tells a newcomer to run.
    ci_lines = [line.strip() for line in ci.splitlines()]
    assert any(commands[1] in line for line in ci_lines), (commands[1], ".ci/run")
    assert shlex.split(commands[1])  # well-formed shell words
