"""What this machine is: its CPU, whether it runs bfloat16 fast, and the record of it that
every benchmark and experiment writes beside its figures (a speed figure means little
without the CPU and the precision it was measured with)."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch

from topex_core.config import FAST_BFLOAT16_ENV
from topex_core.errors import SettingsError

FAST_BFLOAT16_FLAGS = {"amx_bf16", "avx512_bf16"}  # CPU flags of bfloat16 at speed


def fast_bfloat16() -> bool:
    """Whether this machine runs bfloat16 matrix products fast: ``$TOPEX_FAST_BFLOAT16``
    ("0" or "1") when set, so that either path can be tested on any CPU; else a CUDA GPU
    with bfloat16, or a CPU with AMX or AVX512-BF16."""
    forced = os.environ.get(FAST_BFLOAT16_ENV, "").strip()
    if forced:
        if forced not in ("0", "1"):
            raise SettingsError(f"{FAST_BFLOAT16_ENV} must be 0 or 1 (or unset), got '{forced}'")
        return forced == "1"
    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    return bool(FAST_BFLOAT16_FLAGS & cpu_flags())


def fast_train_precision() -> str:
    """"bfloat16" where autocast runs it fast (AMX or AVX512-BF16 CPU, bfloat16 GPU), else
    "float32" (emulated bfloat16 would be slower than float32)."""
    return "bfloat16" if fast_bfloat16() else "float32"


def cuda_available() -> bool:
    return torch.cuda.is_available()


def cpu_flags() -> set[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none: not Linux)."""
    try:
        return set(Path("/proc/cpuinfo").read_text(encoding="utf-8").split())
    except OSError:
        return set()


def cpu_model() -> str:
    """The CPU's model name ("AMD EPYC", "Intel(R) Xeon(R) Platinum 8480+")."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def machine_record() -> dict:
    """The machine figures came from: CPU model, cores, torch threads, device, GPU, and
    whether bfloat16 was fast (so the "auto" precisions chose it) and why."""
    forced = os.environ.get(FAST_BFLOAT16_ENV, "").strip()
    return {"platform": platform.platform(), "processor": cpu_model(),
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "device": "cuda" if torch.cuda.is_available() else "cpu",
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "fast_bfloat16": fast_bfloat16(),
            "bfloat16_flags": sorted(FAST_BFLOAT16_FLAGS & cpu_flags()),
            "fast_bfloat16_forced": forced or None}


def machine_line(record: dict | None = None) -> str:
    """One line for a benchmark's output: "AMD EPYC, 2 CPUs, float32 (no fast bfloat16)"."""
    record = record or machine_record()
    precision = ("bfloat16 fast" if record["fast_bfloat16"] else "float32 (no fast bfloat16)")
    forced = (f", forced by {FAST_BFLOAT16_ENV}={record['fast_bfloat16_forced']}"
              if record["fast_bfloat16_forced"] else "")
    device = f", GPU {record['gpu']}" if record["gpu"] else ""
    return f"{record['processor']}, {record['cpu_count']} CPUs{device}, {precision}{forced}"
