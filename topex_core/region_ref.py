"""A region of an explored run by reference: its kind and its key, one value that the
session, the store, the augmenter, retraining, the command line and the experiments
pass around (``cluster:3``, ``slice:oil | Business``). Torch-free: the command line
parses references before anything heavy is imported.

The key is opaque outside the module that makes it (a cluster's number, a slice's key in
slices.csv, a confusion cell's ``TRUE -> PREDICTED``);
``explorer.explored.ExploredRun.region`` finds the region a reference names.
"""

from __future__ import annotations

from dataclasses import dataclass

from topex_core.errors import SettingsError

REGION_KIND_NAMES = ("cluster", "slice", "confusion", "union")  # ``explorer.region_kinds``' rows
SEPARATOR = ":"


@dataclass(frozen=True)
class RegionRef:
    """``kind`` one of ``REGION_KIND_NAMES``; ``key`` the region's key within its kind."""

    kind: str
    key: str

    def __post_init__(self) -> None:
        if self.kind not in REGION_KIND_NAMES:
            raise SettingsError(f"unknown region kind '{self.kind}'; choose one of "
                                f"{', '.join(REGION_KIND_NAMES)}")
        if not self.key:
            raise SettingsError(f"a {self.kind} needs a key: {self.kind}{SEPARATOR}KEY")

    @classmethod
    def parse(cls, text: str) -> RegionRef:
        """``KIND:KEY`` (the key may hold colons); SettingsError when it is not one."""
        kind, separator, key = str(text).partition(SEPARATOR)
        if not separator:
            raise SettingsError(f"'{text}' is not a region: write KIND{SEPARATOR}KEY, the kind "
                                f"one of {', '.join(REGION_KIND_NAMES)} (cluster:3, "
                                "slice:oil, 'confusion:World -> Business')")
        return cls(kind.strip(), key.strip())

    @classmethod
    def optional(cls, kind: object, key: object) -> RegionRef | None:
        """A reference from two stored values, None when they name no region."""
        if not isinstance(kind, str) or key is None or key != key:  # NaN: a null column
            return None
        return cls(kind, str(key))

    def __str__(self) -> str:
        return f"{self.kind}{SEPARATOR}{self.key}"
