"""``topex --help``, each command's help, and the commands that need no model import no
torch: a first look at the tool costs no model library."""

from __future__ import annotations

import subprocess
import sys

import pytest

CHECK = """
import sys
from topex_core.cli.main import main
try:
    main({argv!r})
except SystemExit:
    pass
print('torch' in sys.modules)
"""


@pytest.mark.parametrize("argv", [["--help"], ["train", "--help"], ["explore", "--help"],
                                  ["experiment", "--help"], ["generate", "--help"],
                                  ["describe", "--help"],
                                  ["compare", "--help"], ["export", "--help"]])
def test_help_imports_no_torch(argv: list[str]) -> None:
    printed = subprocess.run([sys.executable, "-c", CHECK.format(argv=argv)],
                             capture_output=True, text=True, check=True).stdout.split()
    assert printed[-1] == "False", f"topex {' '.join(argv)} imported torch"


def test_comparing_a_round_imports_no_torch(tmp_path) -> None:
    printed = subprocess.run(
        [sys.executable, "-c", CHECK.format(argv=["compare", "--run", str(tmp_path)])],
        capture_output=True, text=True).stdout.split()
    assert printed[-1] == "False"
