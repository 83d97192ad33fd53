"""The training recipe, in one place: `TrainConfig` (every knob of a run) and `recipe`, the settings kept
in docs/training.md (masked L1 + SSIM, clipping, cosine decay; the learning rate by model config). The CLI,
chapter 04's parameters (a test checks them) and the experiments of chapters 07-09 all read it."""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..errors import FaceswapError
from ..faces.align import CORE

# measured in docs/training.md
KEPT = {"batch_size": 32, "masked": True, "ssim_weight": 0.5, "clip_grad": 1.0}
# lite learns fastest with 1e-3; the classic model uses 5e-5
LEARNING_RATES = {"lite": 1e-3, "original": 5e-5}
# a new pair's model starts from the shipped pretrained base (training/pretrain.py); measured in
# docs/training.md
FROM_BASE = True
# how the shipped base was built (`faceswap-core pretrain` defaults): people seed<FIRST_SEED>, ...
BASE_RECIPE = {"count": 24, "frames": 100, "steps": 3000, "seed": 0}
FIRST_SEED = 100  # clear of every seed<N> a chapter, test or doc uses


@dataclass(frozen=True)
class TrainConfig:
    """The knobs of a training run (saved with every checkpoint). The defaults are the classic DeepFakes
    settings (batch 64, Adam 5e-5 with beta1 0.5, plain L1); `recipe` gives the kept ones."""

    batch_size: int = 64
    lr: float = 5e-5
    beta1: float = 0.5
    beta2: float = 0.999
    seed: int = 0
    masked: bool = False  # L1 only inside the face mask
    ssim_weight: float = 0.0  # adds weight * (1 - SSIM)
    warp: float = 1.0  # strength of the random warp (0 = none)
    channels_last: bool = False  # NHWC memory layout for the convolutions (faster on CPU and CUDA)
    clip_grad: float = 0.0  # clip each person's gradient norm to this (0 = no clipping)
    color_transfer: float = 0.0  # share of inputs recoloured with the other person's skin tone (0 = none)
    precision: str = "auto"  # "bf16" autocast, "fp32", or "auto" (bf16 on CUDA, fp32 elsewhere)
    warmup: int = 0  # steps of linear learning-rate warm-up from lr/10 (0 = none)
    # cosine decay of the lr to lr * train.MIN_LR over these steps, then flat (0: constant)
    decay_steps: int = 0
    coverage: float = CORE  # the centre of the crop the network sees (the classic 160 of 256)
    preview_every: int = 0  # steps between preview images (0 = never)
    checkpoint_every: int = 0  # steps between checkpoints (0 = only at the end)
    # weight of the code critic ("true face power"): the encoder is pushed to make the persons' codes
    # indistinguishable to a small critic that learns to tell them apart (0 = off)
    code_critic: float = 0.0
    # extra L1 weight on the eyes, brows and mouth (where a face recogniser looks; DeepFaceLab's "eyes and
    # mouth priority", faceswap's eye and mouth multipliers); 0 = off
    eyes_mouth: float = 0.0
    # the last share of `decay_steps` trains without the random warp (DeepFaceLab's recipe); 0 = warp always
    warp_off: float = 0.0
    # identity-conditioned decoders (a --swaps base): steps fitting each person's identity vector alone
    # before training (everything else frozen), and how much faster than the weights the vector learns
    identity_fit: int = 0
    identity_lr: float = 1.0
    decoder_lr: float = 1.0  # the decoders' weights learn at this share of the schedule's rate (0: frozen)
    # weight of the identity loss on swaps: A's face through decoder B must look like B to our own identity
    # net (`identity_net`, trained on made-up people; never the recogniser that judges); 0 = off
    identity_loss: float = 0.0
    identity_net: str = ""  # its file ("" = the shipped one)
    identity_view: int = 0  # the net sees the swap at this size and scaled back (0 = as drawn)

    def __post_init__(self):
        for name in ("batch_size", "lr"):
            if not getattr(self, name) > 0:
                raise FaceswapError(f"{name.replace('_', ' ')} {getattr(self, name)}: it must be above 0")
        for name in ("ssim_weight", "clip_grad", "code_critic", "eyes_mouth", "warp_off", "warp", "warmup",
                     "identity_fit", "identity_lr", "decoder_lr", "identity_loss", "identity_view",
                     "decay_steps", "preview_every",
                     "checkpoint_every"):
            if getattr(self, name) < 0:
                raise FaceswapError(f"{name.replace('_', ' ')} {getattr(self, name)}: it must be 0 or more")
        if self.precision not in ("auto", "bf16", "fp32"):
            raise FaceswapError(f"precision {self.precision!r}: use auto, bf16 or fp32")


def starting_model(persons: list[str], config: str = "lite", base=None, from_scratch: bool = False,
                   seed: int = 0):
    """The weights a new pair's model starts from: the base file `base` if given, else the shipped base
    when the recipe uses one (`FROM_BASE`) and not `from_scratch`, else random weights from `seed`."""
    from .model import FaceSwapModel
    from .pretrain import from_base

    if base is not None or (FROM_BASE and not from_scratch):
        return from_base(list(persons), config, base)
    return FaceSwapModel.create(config, list(persons), seed=seed)


def recipe(config: str = "lite", steps: int = 0, **changes) -> TrainConfig:
    """The kept settings for a model `config` (lite | original), the learning rate decaying over `steps` (0:
    constant), with `changes` on top."""
    if config not in LEARNING_RATES:
        raise FaceswapError(f"model config {config!r}: use one of {', '.join(LEARNING_RATES)}")
    return replace(TrainConfig(**KEPT, lr=LEARNING_RATES[config], decay_steps=steps), **changes)
