"""The ``topex`` command line: the same core functions the dashboard calls.

Every user error (a :class:`~topex_core.errors.TopexError`) ends with exit status 2 and one
line on stderr (``topex: error: …``); ``--debug`` shows the traceback instead. Any other
exception is a bug: its traceback is printed with one line asking for a report, exit 1.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Sequence

from topex_core.cli.parser import build_parser
from topex_core.errors import TopexError

BUG_EXIT = 1
USER_ERROR_EXIT = 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help(sys.stderr)
        return USER_ERROR_EXIT
    try:
        return args.handler(args)
    except TopexError as error:
        if args.debug:
            raise
        message = " ".join(str(error).split()) or type(error).__name__
        print(f"topex: error: {message}", file=sys.stderr)
        return USER_ERROR_EXIT
    except KeyboardInterrupt:
        print("topex: interrupted", file=sys.stderr)
        return 130
    except Exception:  # a bug, not bad input: show where it happened
        traceback.print_exc()
        print("topex: this is a bug in TopEx; please report it with the traceback above",
              file=sys.stderr)
        return BUG_EXIT


if __name__ == "__main__":
    sys.exit(main())
