"""Where a fit runs: the device, its autocast precision, its thread count and its peak memory."""

from __future__ import annotations

import resource
import sys

import torch


def pick_device(name: str) -> str:
    """`auto`: the GPU when there is one, else the CPU; any other name as given."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


def autocast_dtype(device: str, precision: str) -> torch.dtype | None:
    """The autocast dtype: `auto` is bf16 where the GPU supports it, else fp16; fp32 (None)
    on a CPU."""
    if not device.startswith("cuda") or precision == "fp32":
        return None
    if precision == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float16 if precision == "fp16" else torch.bfloat16


def autocast(device: str, precision: str):
    """The forward pass's autocast context (a disabled one on a CPU or at fp32)."""
    dtype = autocast_dtype(device, precision)
    if dtype is None:
        return torch.autocast("cpu", enabled=False)
    return torch.autocast("cuda", dtype=dtype)


def reset_peak_memory(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_bytes(device: str) -> int:
    """Peak memory since `reset_peak_memory`: the GPU's allocated bytes, or on a CPU the
    process's peak resident set (its whole life: the OS keeps no resettable peak)."""
    if device.startswith("cuda"):
        return int(torch.cuda.max_memory_allocated(device))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024)  # macOS: bytes; Linux: KiB


def synchronize(device: str) -> None:
    """Wait for the device's queued work (a GPU runs ahead of the host): before a clock reads."""
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)
