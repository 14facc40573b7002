"""What a careful analyst would question in a labelled file before training on it.

Refused (a ``DataError``): a label column with (nearly) one class per row, which looks
like an id column; a delimited file whose one header field holds another separator.
Kept, with a warning that the CLI and the Data page show and run.json keeps: NUL and
other control characters (stripped from the texts), texts that are mostly numbers, texts
that mostly repeat earlier rows, and test rows whose text a pool row has too (the model
can be right on them from memory, and a round could train on them).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from topex_core.errors import DataError

# control characters other than tab, line feed and carriage return (C0, DEL, C1)
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
NUMBER = re.compile(r"[\s\d.,:;%+\-/()$€£]*\d[\s\d.,:;%+\-/()$€£eE]*")
ID_LIKE_SHARE = 0.9  # classes per row above which a label column looks like an id
ID_LIKE_MIN_ROWS = 20
DOUBTFUL_SHARE = 0.5  # of the texts: numbers only, or repeats, above which we warn
OTHER_SEPARATORS = {";": "semicolons", "\t": "tabs", "|": "vertical bars", ",": "commas"}


def without_control_characters(text: str) -> str:
    return CONTROL_CHARACTERS.sub("", text)


def check_not_an_id(classes: int, rows: int, source: str, column: str) -> None:
    """DataError when (nearly) every row has a class of its own."""
    if rows >= ID_LIKE_MIN_ROWS and classes >= ID_LIKE_SHARE * rows:
        raise DataError(f"{source}: column '{column}' looks like an id column, not labels: "
                        f"{classes:,} distinct values in {rows:,} rows; choose the column "
                        "that holds the classes (--label-col)")


def check_separator(path: Path, header: Sequence[str], delimiter: str) -> None:
    """DataError when the header is one field that another separator splits."""
    if len(header) != 1:
        return
    for separator, name in OTHER_SEPARATORS.items():
        if separator != delimiter and separator in header[0]:
            fields = ", ".join(part.strip() for part in header[0].split(separator))
            expected = "tabs" if delimiter == "\t" else "commas"
            other = {"\t": " or name it .tsv", ",": " or name it .csv"}.get(separator, "")
            raise DataError(f"{path}: the header is one field separated by {name} ({fields}), "
                            f"and this file type is read with {expected}; save it with "
                            f"{expected}{other}")


def text_warnings(texts: Sequence[str], pairs: Sequence[str] | None, cleaned_rows: list[int],
                  column: str) -> tuple[str, ...]:
    """One sentence per doubtful finding in the texts (see the module)."""
    rows = len(texts)
    warnings = []
    if cleaned_rows:
        shown = ", ".join(str(row) for row in cleaned_rows[:5])
        warnings.append(f"stripped NUL or other control characters from {len(cleaned_rows):,} "
                        f"of {rows:,} rows (rows {shown}{', …' if len(cleaned_rows) > 5 else ''}"
                        ")")
    numbers = sum(bool(NUMBER.fullmatch(text)) for text in texts)
    if numbers >= DOUBTFUL_SHARE * rows:
        warnings.append(f"{numbers:,} of {rows:,} texts in column '{column}' ({numbers / rows:.0%})"
                        " are only numbers: is it the text column?")
    keys = list(zip(texts, pairs, strict=True)) if pairs is not None else list(texts)
    repeats = rows - len(set(keys))
    if repeats >= DOUBTFUL_SHARE * rows:
        warnings.append(f"{repeats:,} of {rows:,} rows ({repeats / rows:.0%}) repeat an earlier "
                        "row's text: the model sees few distinct examples")
    return tuple(warnings)


def repeated_test_texts(pool_keys: Sequence[object], test_keys: Sequence[object],
                        trained: Sequence[bool]) -> str | None:
    """A sentence when test rows repeat a pool row's text exactly (``*_keys``: a text, or
    a (text, pair) tuple, per row; ``trained``: per pool row, whether the model trained on
    it); None when none does."""
    in_pool = set(pool_keys)
    in_training = {key for key, used in zip(pool_keys, trained, strict=True) if used}
    repeated = sum(key in in_pool for key in test_keys)
    if not repeated:
        return None
    memorised = sum(key in in_training for key in test_keys)
    return (f"{repeated:,} of {len(test_keys):,} test rows repeat a pool row's text exactly "
            f"({memorised:,} of them a training row's): the model can be right on them from "
            "memory; experiments never add such pool rows as samples")
