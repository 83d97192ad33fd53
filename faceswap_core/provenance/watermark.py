"""An invisible watermark in every frame that a machine can read back. Taught in chapter 09.

A video converted by `faceswap-core convert` carries four marks: a visible label, a metadata tag (both from
`labelling`), this module's watermark (`convert_video(mark=mark_frame)`: the CLI and chapters 05 and 09 pass
it) and signed C2PA Content Credentials (`credentials.sign`). The label, the tag and the credentials vanish
with one crop or re-encode (the credentials say who signed what, and any edit shows); the watermark is meant
to survive an H.264 re-encode and a resize while nobody sees it. It is our own, small method:
spread-transform dither modulation (a form of quantisation index modulation) with perceptual shaping and an
error-correcting code.

- Layout relative to the frame: the luma is resized to a `GRID` x `GRID` canonical image, cut into
  `BLOCK` x `BLOCK` blocks (256). Each block has three channels: orthonormal keyed mixes of the three lowest
  AC cosines (the frequencies H.264 keeps) under a fade to the block's edges. The 32-bit payload is coded
  by a convolutional code (`ecc`: 76 coded bits, free distance 10); each coded bit owns ~10 of the 768
  channels, spread over the frame by a keyed permutation. A half-size copy resized to the grid gives the
  same blocks.
- Each channel's projection is moved towards the nearest point of a lattice of spacing `STEP`, offset by
  half a step for a 1 and by a keyed dither. Textured blocks use a wider lattice (`TEXTURED_STEP`): a
  re-encode disturbs them more, and a larger change hides in them.
- Strength follows the picture: no pixel changes by more than `jnd` grey levels, a just-noticeable-difference
  map of texture masking (a change hides in texture and edges, not on a smooth backdrop) with a luminance
  term (the eye sees small steps less well in the dark): `BASE` (1.6) in flat areas, so at most 2 levels
  after rounding, up to `CAP` in texture. A block too flat to reach its lattice point moves part of the way;
  a frame whose mark would cost more than `MIN_PSNR` is marked more faintly. The code and the vote over
  frames make up for the lost strength: redundancy, not strength.
- Reading needs no original: the distance of each projection to the two lattices gives a soft vote,
  weighted by how far the map lets that channel move (computed again on the frame read), summed over a
  coded bit's channels and over frames, then decoded (soft Viterbi). `vote` decodes all frames' votes and
  the key frames' alone (a re-encode codes key frames afresh; between them, motion compensation drags a
  faint mark along with what moves); the mark is found when one decodes to exactly the payload, which an
  unmarked video does with probability at most 2 x 2^-32. `extract(crop=...)` reads a frame as the centre
  crop of a marked one (`verifier.verify` tries 29 sizes when the whole frame fails).
- It survives re-encoding (CRF 40 included), resizing, brightness and frame-rate changes and a centre crop,
  not an off-centre crop, rotation or a deliberate attack: anyone who knows `KEY` can read it, and so
  remove it.
  `benchmarks/bench_watermark.py` measures all of it.

Frames are ``uint8 HxWx3 RGB``.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from .. import media
from ..errors import FaceswapError
from . import ecc

GRID, BLOCK = 128, 8  # canonical luma size and block size: 16 x 16 blocks
STEP = 20.0  # lattice spacing (projection units) of a flat block
# a block whose canonical pixels vary (std) by more than ACTIVITY uses a lattice TEXTURED_STEP times wider;
# the reader's class of a block near the threshold is soft (ACTIVITY_BAND either side): it votes with both
ACTIVITY, ACTIVITY_BAND, TEXTURED_STEP = 5.0, 2.0, 1.4
# the just-noticeable-difference map (grey levels; `jnd`): BASE everywhere, TEXTURE x the local standard
# deviation (WINDOW px) above FLOOR where that is more, at most CAP; up to 1 + DARK times that in black
WINDOW, BASE, FLOOR, TEXTURE, CAP, DARK = 7, 1.6, 1.5, 1.0, 4.0, 0.5
MIN_PSNR = 45.7  # dB: a frame whose mark would change it more is marked more faintly
# DCT frequencies the mark lives in (higher ones die in a half-size re-encode); each block carries one
# channel per frequency (a keyed orthonormal mix of them)
FREQS = ((0, 1), (1, 0), (1, 1))
MIN_REPEAT = 4  # each coded bit owns at least this many of the 768 channels
MAX_BITS = (GRID // BLOCK) ** 2 * len(FREQS) // MIN_REPEAT // ecc.RATE - ecc.MEMORY  # the longest payload
MIN_SIDE = 64  # px: a smaller frame cannot hold the pattern
KEY = 20_260_909  # seeds the layout; the mark is readable by anyone who knows it (provenance, not secrecy)
# 24 bits "this is a faceswap-lab mark" + 8 bits "faces replaced by face swapping"
MAGIC, CODE = 0xFA5E1A, 0x01
CODES = {CODE: "faces replaced by faceswap-lab"}
PAYLOAD = tuple(((MAGIC << 8 | CODE) >> (31 - i)) & 1 for i in range(32))
# Found when a decoded payload is exactly ours. Without the mark, each channel's vote is as likely + as -
# (its keyed dither is uniform), independently, so a decode gives each of the 2^32 payloads alike: a false
# find has a probability of 2^-32 per decode, at most 2 x 2^-32 ~ 4.7e-10 per video (`vote` decodes twice).
FOUND_ACCURACY = 1.0
# the flat-area rule of the visibility figures: local standard deviation (WINDOW px) under this many levels
FLAT_SIGMA = 2.0
# a mark is called invisible when its PSNR is at least this and it changes flat areas by at most this at the
# 99th percentile (the eye notices about 2-3 grey levels on a smooth gradient)
INVISIBLE = {"psnr": 45.0, "flat_p99": 2.0}


def _luma(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)


def _local_stats(luma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local mean and standard deviation over WINDOW x WINDOW px."""
    mean = cv2.blur(luma, (WINDOW, WINDOW))
    var = cv2.blur(luma * luma, (WINDOW, WINDOW)) - mean * mean
    return mean, np.sqrt(np.maximum(var, 0))


def jnd(frame: np.ndarray) -> np.ndarray:
    """(H, W) float32: how many grey levels the mark may change each pixel of an RGB frame. Texture masking
    (a change hides in texture and edges, not on a smooth backdrop) with a luminance term (the eye sees
    small steps less well in the dark): BASE in flat areas, TEXTURE x (local std - FLOOR) in texture, at
    most CAP, up to 1 + DARK times that in black; never more than a channel's distance to 0 or 255 (a change
    clipped on one side is a visible dot on a white or black backdrop)."""
    frame = media.rgb_image(frame)
    mean, sigma = _local_stats(_luma(frame))
    amp = np.clip(TEXTURE * (sigma - FLOOR), BASE, max(CAP, BASE))
    amp *= 1 + DARK * np.clip((64 - mean) / 64, 0, 1)
    r, g, b = cv2.split(frame)  # (cv2's per-pixel max and min: ten times numpy's over the channel axis)
    headroom = cv2.min(255 - cv2.max(cv2.max(r, g), b), cv2.min(cv2.min(r, g), b))
    return np.minimum(amp, headroom.astype(np.float32))


@functools.lru_cache(maxsize=8)
def _layout(n_coded: int) -> tuple[np.ndarray, ...]:
    """The channels of an n_coded-bit code: per block, CHANNELS orthonormal patterns (n, n, C, B, B) drawn
    from the lowest AC cosines under a fade, their canonical images (C, GRID, GRID) at a peak of 1, the
    peaks (n, n, C), the keyed dither (n, n, C, in steps) and the coded bit each channel carries."""
    n, k = GRID // BLOCK, np.arange(BLOCK)
    dct = np.sqrt(2 / BLOCK) * np.cos(np.pi * (2 * k[None] + 1) * k[:, None] / (2 * BLOCK))
    dct[0] /= np.sqrt(2)  # orthonormal DCT-II rows
    fade = np.sin(np.pi * (k + 0.5) / BLOCK)  # to ~0 at the block's edges: no seams between blocks
    basis = np.stack([np.outer(dct[i] * fade, dct[j] * fade) for i, j in FREQS]).reshape(len(FREQS), -1)
    rng = np.random.default_rng(KEY)
    mix = rng.normal(size=(n, n, len(FREQS), len(FREQS)))  # a keyed mix of the faded cosines per block...
    q = np.linalg.qr(np.einsum("abck,kp->abpc", mix, basis))[0]  # ... made orthonormal
    pattern = q.transpose(0, 1, 3, 2).reshape(n, n, len(FREQS), BLOCK, BLOCK).astype(np.float32)
    peak = np.abs(pattern).max(axis=(-2, -1))
    image = (pattern / peak[..., None, None]).transpose(2, 0, 3, 1, 4).reshape(len(FREQS), GRID, GRID)
    dither = rng.uniform(0, 1, (n, n, len(FREQS))).astype(np.float32)
    owner = (rng.permutation(n * n * len(FREQS)) % n_coded).reshape(n, n, len(FREQS))
    return pattern, np.ascontiguousarray(image), peak, dither, owner


def _per_block(x: np.ndarray) -> np.ndarray:
    """(n, n) per-block coefficients -> (GRID, GRID), each block's value over its pixels."""
    return np.kron(x, np.ones((BLOCK, BLOCK), np.float32))


def _projections(canonical: np.ndarray, pattern: np.ndarray) -> np.ndarray:
    """(n, n, C): each channel's projection of a canonical image."""
    n = GRID // BLOCK
    blocks = canonical.reshape(n, BLOCK, n, BLOCK).transpose(0, 2, 1, 3)  # (n, n, B, B)
    return np.einsum("abij,abcij->abc", blocks, pattern)


def _canonical(x: np.ndarray) -> np.ndarray:
    return cv2.resize(x, (GRID, GRID), interpolation=cv2.INTER_AREA)


def _activity(canonical: np.ndarray) -> np.ndarray:
    """(n, n): the standard deviation of each block's canonical pixels (a coarse measure of texture that a
    re-encode or a resize hardly changes)."""
    n = GRID // BLOCK
    return canonical.reshape(n, BLOCK, n, BLOCK).std(axis=(1, 3))


def _textured(canonical: np.ndarray) -> np.ndarray:
    """(n, n, 1) in [0, 1]: how surely each block is textured (1) rather than flat (0)."""
    return np.clip((_activity(canonical) - ACTIVITY + ACTIVITY_BAND) / (2 * ACTIVITY_BAND), 0, 1)[..., None]


def _draw(coef: np.ndarray, image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The channels' images weighted per block by coef (n, n, C), at frame size (w, h)."""
    canvas = sum(image[c] * _per_block(coef[..., c]) for c in range(image.shape[0]))
    return cv2.resize(canvas, size, interpolation=cv2.INTER_LINEAR)


def _reach(amp: np.ndarray, pattern: np.ndarray, image: np.ndarray) -> np.ndarray:
    """(n, n, C): how far each channel's projection moves when its pattern is drawn at a peak of `amp`."""
    h, w = amp.shape
    drawn = [cv2.resize(im, (w, h), interpolation=cv2.INTER_LINEAR) * amp for im in image]
    return np.stack([_projections(_canonical(d), pattern)[..., c] for c, d in enumerate(drawn)], axis=-1)


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


def embed(frame: np.ndarray, payload=PAYLOAD, *, step: float = STEP, strength: float = 1.0,
          uniform: float | None = None, passes: int = 3) -> np.ndarray:
    """A copy of an RGB frame with `payload` (0/1 bits) hidden in it. No pixel changes by more than
    `strength` x `jnd(frame)` grey levels (plus rounding), or by `uniform` levels everywhere when given (the
    mark without perceptual shaping, as this module drew it before: visible on flat areas); `passes` > 1
    corrects what rounding, clipping at 0/255 and the resize lost in the previous pass."""
    frame, bits = media.rgb_image(frame), payload_bits(payload)
    step, passes = media.real(step, "step", 0.0, 1e4), media.positive_int(passes, "passes", 16)
    strength = media.real(strength, "strength", 0.0, 100.0)
    uniform = None if uniform is None else media.real(uniform, "uniform", 0.0, 255.0)
    h, w = frame.shape[:2]
    if not (cap := capacity(frame.shape)):
        raise FaceswapError(f"frame {w}x{h}: too small to carry a watermark (at least {MIN_SIDE} px a side)")
    if bits.size > cap:
        raise FaceswapError(f"payload of {bits.size} bits is too long for a {w}x{h} frame: at most {cap} "
                            f"(coded, each bit needs {MIN_REPEAT * ecc.RATE} of the {(GRID // BLOCK) ** 2} "
                            "blocks); shorten it")
    coded = ecc.encode(bits)
    pattern, image, peak, dither, owner = _layout(coded.size)
    luma = _luma(frame)
    step = np.where(_textured(_canonical(luma)) >= 0.5, step * TEXTURED_STEP, step)  # per block
    offset = (dither + coded[owner] / 2) * step  # the lattice each channel must land on
    amp = jnd(frame) * strength if uniform is None else np.full(luma.shape, uniform, np.float32)
    reach = np.maximum(_reach(amp, pattern, image), 1e-6)
    marked, coef, change, target = luma, np.zeros_like(reach), np.zeros_like(luma), None
    for k in range(passes):
        p = _projections(_canonical(marked), pattern)
        if target is None:
            target = np.round((p - offset) / step) * step + offset
        coef = np.clip(coef + (target - p) / reach, -1, 1)  # 1: the pattern's peak changed by the full amp
        drawn = np.clip(_draw(coef, image, (w, h)), -1, 1) * amp
        change = np.rint(drawn)
        if k < passes - 1:  # the luma as it will be (clipped at white and black), read back as `extract` will
            marked = np.clip(luma + change, 0, 255)
    if uniform is None and (mse := float(np.mean(change ** 2))) > (most := 255 ** 2 / 10 ** (MIN_PSNR / 10)):
        change = np.rint(drawn * np.sqrt(most / mse))  # a busy frame: fainter, never above the PSNR budget
    out = frame.astype(np.int16)
    out += change.astype(np.int16)[..., None]
    return np.clip(out, 0, 255, out=out).astype(np.uint8)


def _uncrop(frame: np.ndarray, crop: float) -> tuple[np.ndarray, np.ndarray]:
    """The frame placed where it sat if it is the centre `crop` x `crop` of a marked frame (grey around it),
    and which blocks (n, n) of that frame it holds whole."""
    h, w = frame.shape[:2]
    big_h, big_w = round(h / crop), round(w / crop)
    top, left = (big_h - h) // 2, (big_w - w) // 2
    canvas = cv2.copyMakeBorder(frame, top, big_h - h - top, left, big_w - w - left, cv2.BORDER_CONSTANT,
                                value=(128, 128, 128))
    edges = np.arange(GRID // BLOCK + 1) / (GRID // BLOCK)
    rows = (edges[:-1] * big_h >= top - 0.5) & (edges[1:] * big_h <= top + h + 0.5)
    cols = (edges[:-1] * big_w >= left - 0.5) & (edges[1:] * big_w <= left + w + 0.5)
    return canvas, np.outer(rows, cols)


def extract(frame: np.ndarray, n_bits: int = len(PAYLOAD), *, step: float = STEP,
            crop: float = 1.0) -> np.ndarray:
    """Soft votes for the coded bits of an `n_bits` payload, read from one RGB frame: > 0 says 1, < 0 says
    0; each channel votes in [-1, 1], weighted by how far the mark could move it. Sum them over frames, then
    `decode` (or `bit_accuracy`). `crop` < 1 reads the frame as the centre crop of that size of a marked
    frame (the blocks it holds whole vote, the others say nothing)."""
    frame, step = media.rgb_image(frame), media.real(step, "step", 0.0, 1e4)
    n_bits, crop = media.positive_int(n_bits, "n_bits", MAX_BITS), media.real(crop, "crop", 0.1, 1.0)
    if not capacity(frame.shape):
        h, w = frame.shape[:2]
        raise FaceswapError(f"frame {w}x{h}: too small to carry a watermark (at least {MIN_SIDE} px a side)")
    frame, inside = _uncrop(frame, crop) if crop < 1 else (frame, None)
    pattern, image, _, dither, owner = _layout(ecc.coded_length(n_bits))
    canonical = _canonical(_luma(frame))
    p, textured = _projections(canonical, pattern), _textured(canonical)
    reach = _reach(jnd(frame), pattern, image)
    vote = np.zeros_like(p)
    for share, s in ((1 - textured, step), (textured, step * TEXTURED_STEP)):  # +1 on the 1-lattice, -1 on 0
        vote -= share * np.cos(2 * np.pi * (p / s - dither)) * np.clip(reach / (s / 2), 0, 1)
    if inside is not None:
        vote *= inside[..., None]
    return np.bincount(owner.ravel(), weights=vote.ravel(), minlength=ecc.coded_length(n_bits))


def decode(votes, n_bits: int = len(PAYLOAD)) -> np.ndarray:
    """The payload (0/1 bits) that soft votes of its coded bits (from `extract`, summed over frames) say."""
    votes = np.asarray(votes, dtype=np.float64).reshape(-1)
    n_bits = media.positive_int(n_bits, "n_bits", MAX_BITS)
    if votes.size != ecc.coded_length(n_bits):
        raise FaceswapError(f"{votes.size} votes: a {n_bits}-bit payload has {ecc.coded_length(n_bits)} "
                            "coded bits; give one vote per coded bit")
    return ecc.decode(votes, n_bits)


def vote(reads: list[np.ndarray], key: list[bool] | None = None, payload=PAYLOAD) -> dict:
    """The payload read from several frames' votes (`extract`), and whether it is `payload`. Two sums are
    decoded: all frames, and the key frames alone (a re-encode codes its key frames afresh, while in the
    frames between it drags the mark along with whatever moves). Found when either decodes to exactly
    `payload`: by chance (no mark) with probability at most 2 x 2^-n_bits."""
    bits = payload_bits(payload)
    if not reads:
        raise FaceswapError("no frames to read the watermark from; give at least one frame")
    key = [False] * len(reads) if key is None else list(key)
    sums = {"all frames": np.sum(reads, axis=0)}
    if 0 < sum(key) < len(reads):
        sums["key frames"] = np.sum([r for r, k in zip(reads, key) if k], axis=0)
    decoded = {name: decode(v, bits.size) for name, v in sums.items()}
    found = [name for name, d in decoded.items() if np.array_equal(d, bits)]
    name = found[0] if found else "all frames"
    coded = ecc.encode(bits).astype(bool)
    return {"found": bool(found), "bits": "".join(map(str, decoded[name])), "read_from": name,
            "bit_accuracy": float(np.mean(decoded[name] == bits)), "frames": len(reads),
            "key_frames": sum(key),
            "coded_accuracy": float(np.mean((sums[name] > 0) == coded))}


def bit_accuracy(votes, payload=PAYLOAD) -> float:
    """Share of payload bits read right from coded votes (decoded first) or from payload bits."""
    bits = payload_bits(payload)
    votes = np.asarray(votes, dtype=np.float64).reshape(-1)
    read = decode(votes, bits.size) if votes.size == ecc.coded_length(bits.size) else votes > 0
    return float(np.mean(read.astype(bool) == bits.astype(bool)))


def visibility(original: np.ndarray, marked: np.ndarray) -> dict:
    """How visible a mark is: PSNR (dB), SSIM of the luma, and the change (grey levels, largest over R, G,
    B) in flat areas (local std of the original's luma under FLAT_SIGMA over WINDOW px): mean, 99th
    percentile, max, and their share of the frame."""
    from skimage.metrics import structural_similarity

    original, marked = media.rgb_image(original, "original"), media.rgb_image(marked, "marked")
    if original.shape != marked.shape:
        raise FaceswapError(f"original {original.shape[1]}x{original.shape[0]} and marked "
                            f"{marked.shape[1]}x{marked.shape[0]}: give two frames of one size")
    diff = marked.astype(np.float64) - original
    mse = float(np.mean(diff ** 2))
    change = np.abs(diff).max(axis=2)
    flat = _local_stats(_luma(original))[1] < FLAT_SIGMA
    in_flat = change[flat] if flat.any() else np.zeros(1)
    return {"psnr": 10 * np.log10(255 ** 2 / mse) if mse else float("inf"),
            "ssim": float(structural_similarity(_luma(original), _luma(marked), data_range=255)),
            "flat_share": float(flat.mean()), "flat_mean": float(in_flat.mean()),
            "flat_p99": float(np.percentile(in_flat, 99)), "flat_max": float(in_flat.max())}


def invisible(figures: dict) -> bool:
    """Whether `visibility` figures meet the INVISIBLE limits."""
    return figures["psnr"] >= INVISIBLE["psnr"] and figures["flat_p99"] <= INVISIBLE["flat_p99"]


def mark_frame(frame: np.ndarray) -> np.ndarray:
    """The frame with faceswap-lab's watermark ("faces replaced by face swapping"), for `convert` to call."""
    return embed(frame, PAYLOAD)


__all__ = ["CODE", "FOUND_ACCURACY", "MAGIC", "PAYLOAD", "bit_accuracy", "capacity", "decode", "embed",
           "extract", "invisible", "jnd", "mark_frame", "payload_bits", "visibility", "vote"]
