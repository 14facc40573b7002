"""Every ``topex`` command line quoted in the README and the manual names a command and
options the parser has, so a reader who copies one is not told it does not exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from topex_core.cli.parser import command_parsers

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
# `topex` as a command in code: followed by a command name or an option
COMMAND_LINE = re.compile(r"(?<![\w/.-])topex((?: +[^\s`|;&#]+)+)")
CODE_SPAN = re.compile(r"`([^`\n]+)`")


def quoted_code(markdown: str) -> list[str]:
    """The code of a Markdown text: each fenced block's lines, continuations (``\\``)
    joined, then each inline code span outside the blocks."""
    pieces: list[str] = []
    prose: list[str] = []
    in_block = False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            in_block = not in_block
            continue
        if in_block:
            if pieces and pieces[-1].endswith("\\"):
                pieces[-1] = pieces[-1][:-1] + " " + line.strip()
            else:
                pieces.append(line.strip())
        else:
            prose.append(line)
    pieces.extend(CODE_SPAN.findall(" ".join(prose)))
    return pieces


def command_lines(markdown: str) -> list[tuple[str, list[str]]]:
    """Each ``topex COMMAND --option …`` quoted in ``markdown``: the command and its
    options (without values)."""
    found = []
    for code in quoted_code(markdown):
        for match in COMMAND_LINE.finditer(code.split(" #")[0]):
            words = match.group(1).split()
            if words[0].startswith("-"):
                found.append(("", [words[0]]))
            elif re.fullmatch(r"[a-z][a-z-]*", words[0]):
                options = [word.split("=")[0] for word in words[1:] if word.startswith("--")]
                found.append((words[0], options))
    return found


def test_the_scan_finds_commands_in_blocks_continuations_and_spans() -> None:
    markdown = ("Run `topex explore --run RUN` first.\n\n```bash\n"
                "topex train --data x.csv \\\n    --test-size=0.2  # a comment --not\n```\n")
    assert command_lines(markdown) == [("train", ["--data", "--test-size"]),
                                       ("explore", ["--run"])]


def test_the_scan_catches_an_option_no_command_has() -> None:
    parsers = command_parsers()
    (command, options), = command_lines("`topex explore --run R --colour red`")
    unknown = [o for o in options if o not in parsers[command]._option_string_actions]
    assert unknown == ["--colour"]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_quoted_command_and_option_exists(document: Path) -> None:
    parsers = command_parsers()
    wrong = []
    for command, options in command_lines(document.read_text(encoding="utf-8")):
        if command == "":
            wrong += [f"topex {o}" for o in options if o not in ("-h", "--help")]
        elif command not in parsers:
            wrong.append(f"topex {command} (no such command)")
        else:
            known = parsers[command]._option_string_actions
            wrong += [f"topex {command} {o}" for o in options if o not in known]
    assert not wrong, f"{document.name} quotes what topex does not take: {wrong}"
