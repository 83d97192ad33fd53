"""The one place that chooses where tensors live: cuda if available, else mps, else cpu."""

from __future__ import annotations

from .errors import FaceswapError


def pick_device(prefer: str | None = None) -> str:
    """`prefer` if given and present on this machine (else a one-line error), or the best available device."""
    import torch

    if prefer:
        try:
            dev = torch.device(prefer)
        except (RuntimeError, ValueError):
            raise FaceswapError(f"device {prefer!r} is not a device name: "
                                "use cpu, cuda, cuda:N or mps") from None
        if dev.type == "cuda":
            count = torch.cuda.device_count() if torch.cuda.is_available() else 0
            if count == 0:
                raise FaceswapError(f"device {prefer!r}: this machine has no CUDA GPU that torch "
                                    f"{torch.__version__} can use; use --device cpu or leave --device out")
            if dev.index is not None and dev.index >= count:
                raise FaceswapError(f"device {prefer!r}: this machine has {count} CUDA GPU(s), numbered 0 to "
                                    f"{count - 1}")
        elif dev.type == "mps" and not (getattr(torch.backends, "mps", None)
                                        and torch.backends.mps.is_available()):
            raise FaceswapError(f"device {prefer!r}: MPS is not available here; "
                                "use --device cpu or leave it out")
        elif dev.type not in ("cpu", "cuda", "mps"):
            raise FaceswapError(f"device {prefer!r}: use cpu, cuda, cuda:N or mps")
        return prefer
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"
