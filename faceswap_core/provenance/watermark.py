"""An invisible watermark in every frame that a machine can read back. Taught in chapter 09.

A video converted by `faceswap-core convert` carries four marks: a visible label, a metadata tag (both from
`labelling`), this module's watermark (`convert_video(mark=mark_frame)`: the CLI and chapters 05 and 09 pass
it) and signed C2PA Content Credentials (`credentials.sign`). The label, the tag and the credentials vanish
with one crop or re-encode (the credentials say who signed what, and any edit shows); the watermark is meant
to survive an H.264 re-encode and a resize. It is our own, small method (spread-transform dither modulation,
a form of quantisation index modulation):

- Layout relative to the frame: the luma is resized to a `GRID` x `GRID` canonical image, cut into
  `BLOCK` x `BLOCK` blocks (256 of them); each block carries one bit, each bit owns blocks spread over the
  frame (a keyed permutation). A half-size copy resized to the same grid gives the same blocks.
- In each block, the projection of the pixels on a keyed mix of the three lowest AC cosines (the
  frequencies H.264 keeps), faded to zero at the block's edges, is moved to the nearest point of a lattice
  of spacing `STEP`, offset by half a step for a 1 and by a keyed dither; the change is drawn at canonical
  size, resized to the frame and added to R, G and B alike (so to the luma). Reading needs no original: the
  distance of each projection to the two lattices gives a soft vote, summed over a bit's blocks and frames.
- It marks a whole frame and survives re-encoding and resizing, not cropping, rotation or a deliberate
  attack: anyone who knows `KEY` can read it, and so remove it.

Frames are ``uint8 HxWx3 RGB``.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from .. import media
from ..errors import FaceswapError

GRID, BLOCK = 128, 8  # canonical luma size and block size: 16 x 16 blocks
STEP = 75.0  # lattice spacing (projection units); PSNR ~ 39.5 dB on cast clips (2 passes)
# DCT frequencies the mark lives in (higher ones die in a half-size re-encode)
FREQS = ((0, 1), (1, 0), (1, 1))
# H.264 keeps less of a faint pattern than of strong content (its quantiser rounds small coefficients toward
# 0): after a low-resolution re-encode the marked projections come back ~0.9x. Reading them as if scaled by
# 0.95 splits that from an untouched copy (1x): the lowest vote of 13 cast clips after half size + CRF 28 went
# from 0.875 to 0.94, untouched copies still read 1.0.
READ_GAIN = 0.95
MIN_REPEAT = 4  # each bit owns at least this many of the 256 blocks
MAX_BITS = (GRID // BLOCK) ** 2 // MIN_REPEAT  # the longest payload a frame can carry
MIN_SIDE = 64  # px: a smaller frame cannot hold the pattern
KEY = 20_260_909  # seeds the layout; the mark is readable by anyone who knows it (provenance, not secrecy)
# 24 bits "this is a faceswap-lab mark" + 8 bits "faces replaced by face swapping"
MAGIC, CODE = 0xFA5E1A, 0x01
CODES = {CODE: "faces replaced by faceswap-lab"}
PAYLOAD = tuple(((MAGIC << 8 | CODE) >> (31 - i)) & 1 for i in range(32))
# Found when >= 28 of 32 voted bits match: an unmarked video (each bit a fair coin) gets there with
# probability sum_{k>=28} C(32, k) / 2^32 ~ 1e-5. Marked 256 px cast clips vote 0.97-1.0 after CRF 28, then
# half size + CRF 28 (lowest 0.88 over 100 frames: at 128 px a faint mark fades along runs of P-frames);
# 720p -> 360p votes 1.0 (benchmarks/bench_watermark.py).
FOUND_ACCURACY = 0.875


@functools.lru_cache(maxsize=8)
def _layout(n_bits: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-block pattern (n, n, B, B), dither (n, n) and owning bit (n, n) of an n_bits payload."""
    n, k = GRID // BLOCK, np.arange(BLOCK)
    dct = np.sqrt(2 / BLOCK) * np.cos(np.pi * (2 * k[None] + 1) * k[:, None] / (2 * BLOCK))
    dct[0] /= np.sqrt(2)  # orthonormal DCT-II rows
    basis = np.stack([np.outer(dct[i], dct[j]) for i, j in FREQS])
    rng = np.random.default_rng(KEY)
    mix = rng.normal(size=(n, n, len(FREQS)))
    fade = np.sin(np.pi * (k + 0.5) / BLOCK)  # to ~0 at the block's edges: no seams between blocks
    pattern = np.einsum("abk,kij->abij", mix, basis) * np.outer(fade, fade)
    # unit norm
    pattern = (pattern / np.linalg.norm(pattern, axis=(-2, -1), keepdims=True)).astype(np.float32)
    dither = rng.uniform(0, STEP, (n, n)).astype(np.float32)
    owner = (rng.permutation(n * n) % n_bits).reshape(n, n)
    return pattern, dither, owner


def capacity(shape: tuple[int, ...]) -> int:
    """How many payload bits a frame of this (H, W, ...) shape can carry (0: too small)."""
    return MAX_BITS if min(shape[:2]) >= MIN_SIDE else 0


def payload_bits(payload) -> np.ndarray:
    try:
        bits = np.asarray(payload, dtype=np.int64).reshape(-1)
    except (TypeError, ValueError):
        bits = np.array([-1])
    if bits.size == 0 or not np.isin(bits, (0, 1)).all():
        raise FaceswapError(f"payload {str(payload)[:40]}: give a non-empty sequence of 0/1 bits")
    return bits


def _canonical(frame: np.ndarray) -> np.ndarray:
    luma = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return cv2.resize(luma, (GRID, GRID), interpolation=cv2.INTER_AREA)


def _projections(canonical: np.ndarray, pattern: np.ndarray) -> np.ndarray:
    n = GRID // BLOCK
    blocks = canonical.reshape(n, BLOCK, n, BLOCK).transpose(0, 2, 1, 3)  # (n, n, B, B)
    return np.einsum("abij,abij->ab", blocks, pattern)


def embed(frame: np.ndarray, payload=PAYLOAD, *, step: float = STEP, passes: int = 2) -> np.ndarray:
    """A copy of an RGB frame with `payload` (0/1 bits) hidden in it; `passes` > 1 corrects what rounding,
    clipping at 0/255 and the resize lost in the previous pass."""
    frame, bits = media.rgb_image(frame), payload_bits(payload)
    step, passes = media.real(step, "step", 0.0, 1e4), media.positive_int(passes, "passes", 16)
    h, w = frame.shape[:2]
    if not (cap := capacity(frame.shape)):
        raise FaceswapError(f"frame {w}x{h}: too small to carry a watermark (at least {MIN_SIDE} px a side)")
    if bits.size > cap:
        raise FaceswapError(f"payload of {bits.size} bits is too long for a {w}x{h} frame: at most {cap} "
                            f"(each bit needs {MIN_REPEAT} of the {(GRID // BLOCK) ** 2} blocks); shorten it")
    pattern, dither, owner = _layout(bits.size)
    offset = dither + bits[owner] * (step / 2)  # the lattice each block must land on
    luma = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)
    marked, total, target = luma, np.zeros((GRID, GRID), np.float32), None
    for k in range(passes):
        p = _projections(cv2.resize(marked, (GRID, GRID), interpolation=cv2.INTER_AREA), pattern)
        if target is None:
            target = np.round((p - offset) / step) * step + offset
        total += ((target - p)[..., None, None] * pattern).transpose(0, 2, 1, 3).reshape(GRID, GRID)
        change = np.rint(cv2.resize(total, (w, h), interpolation=cv2.INTER_LINEAR))
        if k < passes - 1:  # the luma as it will be (clipped at white and black), read back as `extract` will
            marked = np.clip(luma + change, 0, 255)
    out = frame.astype(np.int16)
    out += change.astype(np.int16)[..., None]
    return np.clip(out, 0, 255, out=out).astype(np.uint8)


def extract(frame: np.ndarray, n_bits: int = len(PAYLOAD), *, step: float = STEP) -> np.ndarray:
    """Soft votes (n_bits,) read from one RGB frame: > 0 says 1, < 0 says 0, in [-blocks, blocks] per bit.
    Sum them over frames to vote; `bits = votes > 0`."""
    frame, step = media.rgb_image(frame), media.real(step, "step", 0.0, 1e4)
    pattern, dither, owner = _layout(media.positive_int(n_bits, "n_bits", MAX_BITS))
    p = _projections(_canonical(frame), pattern) / READ_GAIN
    vote = -np.cos(2 * np.pi * (p - dither) / step)  # +1 on the 1-lattice, -1 on the 0-lattice
    return np.bincount(owner.ravel(), weights=vote.ravel(), minlength=n_bits)


def bit_accuracy(votes, payload=PAYLOAD) -> float:
    """Share of payload bits read right from votes (> 0 is a 1) or from 0/1 bits."""
    return float(np.mean((np.asarray(votes) > 0) == payload_bits(payload).astype(bool)))


def mark_frame(frame: np.ndarray) -> np.ndarray:
    """The frame with faceswap-lab's watermark ("faces replaced by face swapping"), for `convert` to call."""
    return embed(frame, PAYLOAD)


__all__ = ["CODE", "FOUND_ACCURACY", "MAGIC", "PAYLOAD", "bit_accuracy", "capacity", "embed", "extract",
           "mark_frame", "payload_bits"]
