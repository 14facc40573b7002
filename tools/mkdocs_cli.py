"""MkDocs hook: the manual's CLI reference, written from ``topex``'s own parser at build
time, so the page cannot drift from the options the command takes.

A page holding the line ``<!-- topex-cli-reference -->`` gets, in its place, one section
per command: its one-line help, its usage and a table of its options (default, choices,
help).
"""

from __future__ import annotations

import argparse

from topex_core.cli.parser import build_parser, command_helps, command_parsers

MARKER = "<!-- topex-cli-reference -->"


def on_page_markdown(markdown: str, **_: object) -> str:
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, cli_reference())


def cli_reference() -> str:
    """Markdown: one section per ``topex`` command, in the order ``topex --help`` lists them."""
    parser = build_parser()
    helps = command_helps(parser)
    sections = []
    for name, command in command_parsers(parser).items():
        usage = command.format_usage().removeprefix("usage: ").strip()
        rows = [_option_row(action) for action in command._actions
                if action.option_strings and action.help is not argparse.SUPPRESS
                and "--help" not in action.option_strings]
        sections.append("\n".join([
            f"## `topex {name}`", "", f"{_sentence(helps[name] or name)}", "",
            "```text", usage, "```", "",
            "| option | default | what it sets |", "| --- | --- | --- |", *rows, ""]))
    return "\n".join(sections)


def _option_row(action: argparse.Action) -> str:
    names = ", ".join(f"`{option}`" for option in action.option_strings)
    if action.metavar or (action.nargs != 0 and not isinstance(
            action, argparse._StoreConstAction)):
        names += f" `{action.metavar or action.dest.upper()}`"
    if action.required:
        default = "required"
    elif isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
        default = "not given"
    elif action.default in (None, "", argparse.SUPPRESS):
        default = "—"
    else:
        default = f"`{action.default}`"
    help_text = action.help or ""
    if action.choices:
        help_text = f"{help_text} (one of: {', '.join(f'`{c}`' for c in action.choices)})"
    return f"| {names} | {default} | {_cell(help_text.strip())} |"


def _sentence(text: str) -> str:
    return f"{text[0].upper()}{text[1:]}."


def _cell(text: str) -> str:
    """``text`` safe inside a Markdown table cell."""
    return " ".join(text.replace("|", "\\|").split())
