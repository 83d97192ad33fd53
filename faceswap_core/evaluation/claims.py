"""From measured curves and scores to the verdicts of chapters 07 (failure cases) and 08 (reusing a
model): smoothing, steps to reach a level, and each claim's test with its thresholds in one place.

Inputs are the plain results that `experiments.run` returns (curves of {"step", "ssim", ...} rows,
per-yaw-bin rows from `truth_scores.by_yaw`), so every verdict can be tested on constructed numbers.
"""

from __future__ import annotations

import numpy as np

# 07a: the frontal-only model's profile error must be at least this times the full model's
PROFILE_RATIO = 1.1
PROFILE_MARGIN = 0.05  # ... and this much above the same ratio on frontal frames
REUSE_CLAIM = (0.2, 0.5)  # 08: fine-tuning reaches the from-scratch quality in 20-50% of the steps


def steps_to_reach(curve: list[dict], level: float, key: str = "ssim") -> int | None:
    """The first measured step at which `key` reaches `level` (None if it never does)."""
    for row in curve:
        if row[key] >= level:
            return int(row["step"])
    return None


def smooth(curve: list[dict], k: int = 3, key: str = "ssim") -> list[dict]:
    """The curve with `key` replaced by the trailing mean of the last `k` measurements (less noise)."""
    vals = [row[key] for row in curve]
    return [{**row, key: float(np.mean(vals[max(0, i - k + 1):i + 1]))} for i, row in enumerate(curve)]


def table(results: list[dict], label: str, values: list, on: str = "plain") -> list[dict]:
    """One row per result: the varied setting and the scores on one probe (a tidy table for printing)."""
    rows = []
    for v, r in zip(values, results):
        p = r["probes"][on]
        rows.append({label: v, "ssim": round(p["ssim"], 4), "l1": round(p["l1"], 4),
                     "psnr": round(p["psnr"], 2), "baseline_ssim": round(p["baseline"]["ssim"], 4),
                     "ceiling_ssim": round(p["ceiling"]["ssim"], 4),
                     "train_seconds": r["seconds"]})
    return rows


def _bin(rows: list[dict], name: str) -> dict:
    return next(r for r in rows if r["yaw"] == name)


def profile_claim(frontal_only: list[dict], all_angles: list[dict]) -> dict:
    """07a, "a person seen only from the front cannot be rendered in profile": per-|yaw| error rows
    (bins 0-30, 30-60, 60-90) of a model whose target was seen frontal only and of one that saw all angles.
    Held when the frontal-only model's profile error is clearly worse, and worse than on frontal frames."""
    profile, profile_full = _bin(frontal_only, "60-90"), _bin(all_angles, "60-90")
    front, front_full = _bin(frontal_only, "0-30"), _bin(all_angles, "0-30")
    if not (profile["n"] and front["n"]):
        return {"ratio_profile": None, "ratio_front": None, "held": None,
                "verdict": "the probe has no frames in one of the yaw bins: raise PROBE_FRAMES"}
    ratio_profile = profile["mean"] / profile_full["mean"]
    ratio_front = front["mean"] / front_full["mean"]
    held = bool(ratio_profile > PROFILE_RATIO and ratio_profile > ratio_front + PROFILE_MARGIN)
    return {"ratio_profile": ratio_profile, "ratio_front": ratio_front, "held": held,
            "verdict": f"at |yaw| 60-90 the frontal-only model's error is {ratio_profile:.2f}x "
                       f"the full model's; at |yaw| 0-30 it is {ratio_front:.2f}x. "
                       f"Claim {'held' if held else 'did not hold'} here."}


def size_gains(mean_ssim: dict[int, float], baseline: float) -> dict:
    """07b, "about 300 images can suffice": each face-set size's share of the best improvement over no
    swap (empty when no size beat doing nothing, so there is nothing to share)."""
    best = max(mean_ssim.values())
    if best <= baseline:
        return {"gain": {}, "verdict": "no model beat the unswapped face yet: train longer (STEPS) before "
                                       "reading this section"}
    gain = {n: (m - baseline) / (best - baseline) for n, m in mean_ssim.items()}
    return {"gain": gain, "verdict": "mean over seeds, share of the best improvement over no swap: " +
                                     ", ".join(f"{n} faces {100 * g:.0f}%" for n, g in gain.items())}


def reuse_claim(curves: dict[int, tuple[list[dict], list[dict]]]) -> dict:
    """08, "fine-tuning reaches quality in 20-50% of the time": per seed, the (from-scratch, fine-tuned)
    quality curves; the level is what scratch reaches at its last step (smoothed), and the ratio is the
    steps fine-tuning needs to reach it over the steps scratch needs."""
    per_seed = []
    for seed, pair in curves.items():
        scratch, tuned = (smooth(c) for c in pair)
        level = scratch[-1]["ssim"]
        s_scratch, s_tuned = steps_to_reach(scratch, level), steps_to_reach(tuned, level)
        ratio = s_tuned / s_scratch if s_tuned is not None and s_scratch else None
        per_seed.append({"seed": seed, "level_ssim": round(level, 4), "steps_scratch": s_scratch,
                         "steps_tuned": s_tuned, "ratio": None if ratio is None else round(ratio, 3)})
    ratios = [r["ratio"] for r in per_seed if r["ratio"] is not None]
    mean_ratio = float(np.mean(ratios)) if ratios and len(ratios) == len(per_seed) else None
    lo, hi = REUSE_CLAIM
    if any(r["steps_tuned"] == 0 or r["steps_scratch"] == 0 for r in per_seed):
        verdict = "not comparable: a model starts at or above what training from scratch reached; raise STEPS"
    elif mean_ratio is None:
        verdict = "fine-tuning did not reach the from-scratch quality within STEPS for every seed"
    elif mean_ratio < lo:
        verdict = f"faster than the claim (under {lo:.0%} of the steps)"
    elif mean_ratio <= hi:
        verdict = f"the claim held ({lo:.0%}-{hi:.0%} of the steps)"
    else:
        verdict = f"the claim did not hold (over {hi:.0%} of the steps)"
    return {"per_seed": per_seed, "mean_ratio": mean_ratio, "verdict": verdict}


__all__ = ["profile_claim", "reuse_claim", "size_gains", "smooth", "steps_to_reach", "table"]
