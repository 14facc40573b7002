from __future__ import annotations

import pytest

from topex_core.config import FAST_BFLOAT16_ENV
from topex_core.errors import SettingsError
from topex_core.training import hardware
from topex_core.training.classifier import TrainConfig


@pytest.mark.parametrize(("forced", "precision"), [("0", "float32"), ("1", "bfloat16")])
def test_the_bfloat16_detection_can_be_forced_either_way(monkeypatch, forced: str,
                                                         precision: str) -> None:
    monkeypatch.setenv(FAST_BFLOAT16_ENV, forced)
    assert hardware.fast_bfloat16() is (forced == "1")
    assert TrainConfig(backbone="x").resolved().train_precision == precision
    record = hardware.machine_record()
    assert record["fast_bfloat16"] is (forced == "1") and record["fast_bfloat16_forced"] == forced
    line = hardware.machine_line(record)
    assert record["processor"] in line and f"{FAST_BFLOAT16_ENV}={forced}" in line
    assert ("bfloat16 fast" in line) is (forced == "1")


def test_unforced_detection_reads_the_cpu_flags(monkeypatch) -> None:
    monkeypatch.delenv(FAST_BFLOAT16_ENV, raising=False)
    monkeypatch.setattr(hardware.torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(hardware, "cpu_flags", lambda: {"avx2", "fma"})
    assert hardware.fast_bfloat16() is False
    monkeypatch.setattr(hardware, "cpu_flags", lambda: {"avx2", "amx_bf16"})
    assert hardware.fast_bfloat16() is True
    assert hardware.machine_record()["fast_bfloat16_forced"] is None


def test_a_bad_forced_value_is_a_clear_error(monkeypatch) -> None:
    monkeypatch.setenv(FAST_BFLOAT16_ENV, "yes")
    with pytest.raises(SettingsError, match="TOPEX_FAST_BFLOAT16 must be 0 or 1"):
        hardware.fast_bfloat16()
