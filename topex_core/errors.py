"""The one base class of every error a user can fix, and the errors several stages share.

Anything that subclasses :class:`TopexError` is said to the user in one line (the CLI
exits 2, a page shows ``st.error``); any other exception is a bug and shows its traceback.
``TopexError`` is a ``ValueError``, so callers that expect bad input to be a ``ValueError``
keep working. Stage-specific errors (``StoreError``, ``RetrainError``, ``GenerationError``,
``ExperimentError``) live beside their stage and subclass it too.
"""

from __future__ import annotations


class TopexError(ValueError):
    """Bad input, a bad setting, or a state the user can fix; said in one line."""


class DataError(TopexError):
    """The data cannot be used as given; the message names the file, column and row."""


class ModelError(TopexError):
    """A backbone or saved model cannot be loaded or used."""


class RunError(TopexError):
    """A run directory is missing, incomplete, of another dataset or not writable."""


class SettingsError(TopexError):
    """An option is unknown, missing or out of range; the message lists what is allowed."""
