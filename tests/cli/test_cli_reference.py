"""The manual's CLI reference (``tools/mkdocs_cli.py``, a MkDocs hook) lists every command
and every option the parser has, with its default, so the page cannot leave one out."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from topex_core.cli.parser import command_parsers

HOOK = Path(__file__).resolve().parents[2] / "tools" / "mkdocs_cli.py"


def load_hook():
    spec = importlib.util.spec_from_file_location("mkdocs_cli", HOOK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_command_and_option_is_in_the_reference() -> None:
    reference = load_hook().cli_reference()
    for name, command in command_parsers().items():
        section = reference.split(f"## `topex {name}`\n", 1)[1].split("\n## ", 1)[0]
        options = [option for action in command._actions for option in action.option_strings
                   if option not in ("-h", "--help")]
        assert options, name
        missing = [option for option in options if f"`{option}`" not in section]
        assert not missing, f"topex {name}: {missing} not in the reference"
    assert "| `--train-size` `TRAIN_SIZE` | `1000` |" in reference
    assert "| `--data` `DATA` | required |" in reference


def test_the_hook_replaces_only_its_marker() -> None:
    hook = load_hook()
    assert hook.on_page_markdown("# A page\n", page=None) == "# A page\n"
    page = hook.on_page_markdown(f"# CLI\n\n{hook.MARKER}\n", page=None)
    assert hook.MARKER not in page and "## `topex train`" in page
