"""Figures of a swap's scores for chapters 05, 07 and 08: error by head turn, the recogniser's distances,
landmark steadiness, training-set size and reuse curves. Each returns its figure; no pipeline logic here."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from ..evaluation import claims
from ..faces import identity


def plot_error_by_yaw(err: dict[str, np.ndarray], source: str):
    """Masked L1 against the truth of each frame, unswapped and swapped, over the source frame's yaw
    (`truth_scores.frame_errors`)."""
    fig, ax = plt.subplots(figsize=(8, 3.2))
    ax.scatter(err["yaw"], err["source_l1"], s=12, label=f"unswapped {source} vs truth")
    ax.scatter(err["yaw"], err["swap_l1"], s=12, label="swapped vs truth")
    ax.set_xlabel("yaw of the source frame (degrees)")
    ax.set_ylabel("masked L1 (0-1)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_recognition(ident: dict, source: str, target: str, toward_truth: np.ndarray | None = None,
                     threshold: float = identity.THRESHOLD):
    """The recogniser's distance of each sampled face to A's and to B's face set, before and after the swap
    (`ConvertSummary.identity`); beside it, on the cast, the pixel L1 ratio toward the truth per frame."""
    both = toward_truth is not None
    fig, axes = plt.subplots(1, 2 if both else 1, figsize=(11 if both else 6, 3.2), squeeze=False)
    ax = axes[0, 0]
    for when, style in (("before", "--"), ("after", "-")):
        for who, name in (("to_source", source), ("to_target", target)):
            ax.plot(ident["frames"], ident[when]["per_face"][who], style,
                    label=f"{when}: distance to {name}")
    ax.axhline(threshold, color="grey", lw=0.8)
    ax.set_xlabel("frame")
    ax.set_ylabel("identity distance")
    ax.legend(fontsize=7)
    if both:
        after = ident["after"]["per_face"]
        gap = np.array(after["to_source"]) - np.array(after["to_target"])
        axes[0, 1].plot(toward_truth, label="pixel L1 toward the truth (+1: the truth)")
        axes[0, 1].plot(ident["frames"], gap,
                        label=f"recogniser: distance to {source} minus to {target}")
        axes[0, 1].axhline(0, color="grey", lw=0.8)
        axes[0, 1].set_xlabel("frame")
        axes[0, 1].legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_steadiness(truth: np.ndarray, series: dict[str, np.ndarray], point: int = 30):
    """One landmark's x (default the nose tip) off the true one, per frame, for each named (N, 68, 2)
    series."""
    fig, ax = plt.subplots(figsize=(8, 3))
    for label, pts in series.items():
        ax.plot(pts[:, point, 0] - truth[:, point, 0], label=label, lw=1)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xlabel("frame")
    ax.set_ylabel(f"{'nose tip' if point == 30 else f'point {point}'} x minus truth (pixels)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_by_yaw(yaw: np.ndarray, series: dict[str, np.ndarray], no_swap: np.ndarray | None = None,
                source: str = "A"):
    """Per-face masked L1 against the truth over |yaw| for each named model, and doing nothing."""
    fig, ax = plt.subplots(figsize=(8, 3.2))
    for label, values in series.items():
        ax.scatter(yaw, values, s=14, label=label)
    if no_swap is not None:
        ax.scatter(yaw, no_swap, s=10, marker="x", color="0.5", label=f"no swap ({source}'s own face)")
    ax.set_xlabel("|yaw| of A's frame (degrees)")
    ax.set_ylabel("masked L1 vs truth")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_size_curve(rows: list[dict], mean: dict[int, float], seeds: Sequence[int]):
    """Masked SSIM against the truth over the training-set size: each seed (rows of `claims.table` with a
    'seed'), their `mean` per size, doing nothing and a perfect decoder."""
    counts = list(mean)
    fig, ax = plt.subplots(figsize=(6, 3.2))
    for seed in seeds:
        ax.plot(counts, [r["ssim"] for r in rows if r["seed"] == seed], "o", alpha=0.5, label=f"seed {seed}")
    ax.plot(counts, list(mean.values()), "k-", label="mean over seeds")
    ax.axhline(np.mean([r["baseline_ssim"] for r in rows]), ls="--", color="0.5", label="no swap")
    ax.axhline(np.mean([r["ceiling_ssim"] for r in rows]), ls=":", color="tab:green",
               label="a perfect decoder")
    ax.set_xscale("log")
    ax.set_xlabel("faces per person in training")
    ax.set_ylabel("masked SSIM")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_reuse_curves(runs: dict[int, dict[str, dict]], methods: Sequence[str], new_source: str):
    """Quality curves (masked SSIM against the truth over steps, raw and smoothed) of each method and seed
    (`runs[seed][method]` as `experiments.run` returns it), with doing nothing and a perfect decoder."""
    fig, ax = plt.subplots(figsize=(7, 3.4))
    for seed, style in zip(runs, ["-", "--", ":", "-."] * 4):
        for m, color in zip(methods, ("tab:blue", "tab:orange", "tab:purple")):
            c, sm = runs[seed][m]["curve"], claims.smooth(runs[seed][m]["curve"])
            ax.plot([row["step"] for row in c], [row["ssim"] for row in c], "o", ms=3, alpha=0.4, color=color)
            ax.plot([row["step"] for row in sm], [row["ssim"] for row in sm], style, color=color,
                    label=f"{m}, seed {seed}")
    first = runs[next(iter(runs))][methods[0]]
    ax.axhline(first["baseline"]["ssim"], ls="--", color="0.5", lw=0.8,
               label=f"no swap ({new_source}'s own face)")
    ax.axhline(first["ceiling"]["ssim"], ls=":", color="tab:green", lw=0.8, label="a perfect decoder")
    ax.set_xlabel("training step")
    ax.set_ylabel("masked SSIM vs truth")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
