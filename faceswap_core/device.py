"""The one place that chooses where tensors live: cuda if available, else mps, else cpu."""

from __future__ import annotations


def pick_device(prefer: str | None = None) -> str:
    """`prefer` if given, else the best available device name."""
    import torch

    if prefer:
        return prefer
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"
