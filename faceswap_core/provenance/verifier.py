"""Reading every faceswap-lab mark back from a video: metadata tag, visible label, watermark and Content
Credentials, with a verdict (`verify`) and a few lines of text for it (`describe`). Taught in chapter 09."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np

from .. import media
from ..errors import FaceswapError
from . import credentials
from .labelling import LABEL_SCORE, PROVENANCE, label_score
from .watermark import CODES, FOUND_ACCURACY, MIN_SIDE, PAYLOAD, capacity, extract, payload_bits, vote

CONTAINER_TAGS = {"major_brand", "minor_version", "compatible_brands", "encoder"}  # every MP4 has these
# fewer frames than this, and a watermark not found, cannot tell: a re-encoded copy needs the vote of several
# frames (benchmarks/bench_watermark.py)
MIN_FRAMES = 8
# a copy cropped at the centre to one of these sizes (of each side; a size read right within about 0.005)
# is read too, from up to CROP_FRAMES frames shrunk to CROP_SIDE px (fast enough to try 29 sizes): a false
# find on an unmarked video then has a probability of at most 30 x 2 x 2^-32 ~ 1.4e-8
CROPS = tuple(round(0.98 - 0.01 * k, 2) for k in range(29))  # 0.98 ... 0.70
CROP_FRAMES, CROP_SIDE = 6, 480


def verify(path: str | Path, max_frames: int = 16, payload=PAYLOAD, *, trust: bytes | None = None,
           crops: bool = True) -> dict:
    """Every faceswap-lab mark found in a video: metadata tag, visible label, watermark (voted over up to
    `max_frames` frames spread over the clip, key frames among them; not found there and `crops`, read again
    from up to CROP_FRAMES of them as centre crops of each size in CROPS) and Content Credentials
    (``Trusted`` when signed under `trust`, a PEM root such as the workspace's test root), with a verdict.
    Finding none does not make a video real."""
    path, max_frames = media.as_path(path, "video"), media.positive_int(max_frames, "max_frames", 10**6)
    info = media.video_info(path)  # one line for a missing, unreadable or non-video file
    bits = payload_bits(payload)
    with av.open(str(path)) as c:
        tags = dict(c.metadata)
    lower = {k.lower(): v for k, v in tags.items()}
    tag_found = all(lower.get(k) == v for k, v in PROVENANCE.items())
    n = max(1, info.frames)
    if not capacity((info.height, info.width)):
        raise FaceswapError(f"{path}: frames {info.width}x{info.height} are too small to carry a watermark "
                            f"(at least {MIN_SIDE} px a side); nothing to verify")
    keys = sorted(k for k in media.key_frames(path) if k < n)
    picked = np.linspace(0, len(keys) - 1, min(len(keys), max_frames // 2)).round().astype(int)
    keys = [keys[i] for i in picked]  # at most half the frames read are key frames
    spread = np.linspace(0, n - 1, min(n, max_frames - len(keys))).round().astype(int).tolist()
    wanted = set(keys) | set(spread)
    reads, key, labels, kept, last = [], [], [], [], max(wanted)
    others = CROP_FRAMES - min(len(keys), CROP_FRAMES)  # frames kept for the crops: key frames first
    for i, (_, frame) in enumerate(media.iter_frames(path)):
        if i in wanted:
            reads.append(extract(frame, bits.size))
            key.append(i in keys)
            labels.append(label_score(frame))
            if i in keys[:CROP_FRAMES] or (i not in keys and sum(not k for _, k in kept) < others):
                scale = min(1.0, CROP_SIDE / max(frame.shape[:2]))
                if scale < 1 and min(frame.shape[:2]) * scale >= 2 * MIN_SIDE:
                    frame = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
                kept.append((frame, i in keys))
        if i >= last:
            break
    if not reads:
        raise FaceswapError(f"{path}: no frames could be read; check or re-encode the file")
    mark = {**vote(reads, key, bits), "crop": 1.0}
    if not mark["found"] and crops:  # a cropped copy? read those frames as centre crops of each size
        tries = [{**vote([extract(f, bits.size, crop=crop) for f, _ in kept], [k for _, k in kept], bits),
                  "crop": crop} for crop in CROPS]
        hits = [t for t in tries if t["found"]]  # sizes near the right one may decode too: the best agreement
        mark = max(hits, key=lambda t: t["coded_accuracy"]) if hits else mark
    read = np.array([int(b) for b in mark["bits"]])
    code = int("".join(map(str, read[-8:])), 2) if read.size >= 8 else None
    mark.update(threshold=FOUND_ACCURACY, says=CODES.get(code) if mark["found"] else None,
                too_few=not mark["found"] and len(reads) < MIN_FRAMES)
    label = {"found": float(np.median(labels)) >= LABEL_SCORE, "score": float(np.median(labels)),
             "threshold": LABEL_SCORE}
    cred = credentials.read(path, trust=trust)
    # an edited file proves nothing
    cred_ok = cred["found"] and cred["says_swapped"] and cred["state"] != "Invalid"
    found = [name for name, ok in (("watermark", mark["found"]), ("label", label["found"]),
                                   ("tag", tag_found), ("credentials", cred_ok)) if ok]
    if mark["found"] or cred_ok:
        says = mark["says"] if mark["found"] else cred["description"]
        verdict = f"synthetic: {says or 'faceswap-lab mark'} (found: {', '.join(found)})"
    elif found:
        verdict = f"marked synthetic by {' and '.join(found)} only; no watermark read"
    elif mark["too_few"]:
        verdict = (f"not enough frames to tell: {len(reads)} read, the watermark needs about {MIN_FRAMES} "
                   "(no mark found in them)")
    else:
        verdict = "no faceswap-lab mark found (that does not prove the video is real)"
    return {"path": str(path), "frames_checked": len(reads), "tag": {"found": tag_found, "tags": tags},
            "label": label, "watermark": mark, "credentials": cred, "found": found, "verdict": verdict}


def describe(result: dict) -> str:
    """A few lines of text for a `verify` result (what the CLI prints)."""
    m, lab, tag = result["watermark"], result["label"], result["tag"]
    crop = f"; read as a centre crop to {m['crop']:g} of the marked frame" if m.get("crop", 1.0) < 1 else ""
    yes = lambda ok: "found" if ok else "not found"
    shown = {k: v for k, v in tag["tags"].items() if k not in CONTAINER_TAGS}
    return "\n".join([
        f"{result['path']}: {result['verdict']}",
        f"  watermark {yes(m['found'])}: bit accuracy {m['bit_accuracy']:.2f} voted over {m['frames']} "
        f"frames, {m['key_frames']} of them key frames (decoded from "
        f"{'the key frames alone' if m['read_from'] == 'key frames' else 'all frames'}; found when all "
        f"{len(m['bits'])} bits are right{crop}), bits {m['bits']}",
        f"  visible label {yes(lab['found'])}: score {lab['score']:.2f} (found at >= {lab['threshold']:.2f})",
        f"  metadata tag {yes(tag['found'])}" + (f": {shown}" if shown else ""),
        _describe_credentials(result.get("credentials") or {"found": False}),
    ])


def _describe_credentials(c: dict) -> str:
    if not c["found"]:
        return "  content credentials not found" + (f" ({c['note']})" if c.get("note") else "")
    failures = f"; failures: {', '.join(c['failures'])}" if c["failures"] else ""
    return (f"  content credentials found: {c['state']}, "
            f"says: {c['description'] or ', '.join(c['actions'])}, "
            f"signed by {c['signer']}{failures}")
