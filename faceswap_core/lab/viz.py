"""Figures for the notebooks: image grids, landmarks, pose histograms, audio. No pipeline logic here."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import matplotlib.pyplot as plt
import numpy as np

from ..faces import align

# iBUG 68 groups, for drawing landmarks as outlines
LANDMARK_GROUPS = {"jaw": range(0, 17), "brow_r": range(17, 22), "brow_l": range(22, 27),
                   "nose": range(27, 31), "nostrils": range(31, 36), "eye_r": [*range(36, 42), 36],
                   "eye_l": [*range(42, 48), 42], "lips_out": [*range(48, 60), 48],
                   "lips_in": [*range(60, 68), 60]}


def draw_landmarks(frame: np.ndarray, landmarks: np.ndarray, color=(40, 230, 80),
                   hidden=(230, 60, 40)) -> np.ndarray:
    """A copy of `frame` with landmark outlines; points with visibility 0 are drawn in `hidden`."""
    img = frame.copy()
    r = max(1, round(img.shape[0] / 200))
    pts = landmarks[:, :2]
    vis = landmarks[:, 2] > 0.5 if landmarks.shape[1] > 2 else np.ones(len(pts), bool)
    for idx in LANDMARK_GROUPS.values():
        idx = list(idx)
        poly = np.round(pts[idx]).astype(np.int32)
        cv2.polylines(img, [poly], False, color, max(1, r // 2), cv2.LINE_AA)
    for (x, y), v in zip(pts, vis):
        cv2.circle(img, (int(round(x)), int(round(y))), r, color if v else hidden, -1, cv2.LINE_AA)
    return img


def contact_sheet(frames: Sequence[np.ndarray], cols: int = 8, pad: int = 2) -> np.ndarray:
    """Tile equally sized frames into one image, row by row."""
    frames = list(frames)
    h, w = frames[0].shape[:2]
    rows = -(-len(frames) // cols)
    sheet = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, 3), 255, np.uint8)
    for i, f in enumerate(frames):
        r, c = divmod(i, cols)
        sheet[pad + r * (h + pad):pad + r * (h + pad) + h, pad + c * (w + pad):pad + c * (w + pad) + w] = f
    return sheet


def show_images(images: Sequence[np.ndarray], titles: Sequence[str] | None = None, cols: int = 5,
                size: float = 2.4, suptitle: str | None = None, cmaps: Sequence[str | None] | None = None):
    """Show images in a grid with optional titles (and a colormap per image for maps); returns the figure."""
    n = len(images)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * size, rows * size), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, img in enumerate(images):
        ax = axes.flat[i]
        ax.imshow(img, cmap=cmaps[i] if cmaps is not None else None)
        if titles is not None:
            ax.set_title(titles[i], fontsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def plot_alignment_steps(frame: np.ndarray, landmarks: np.ndarray, crop: np.ndarray, matrix: np.ndarray,
                         mask: np.ndarray, detector: str = ""):
    """Chapter 02's alignment in five panels: template, landmarks, aligned crop with its face-core box,
    face mask, and the crop put back into the frame; returns the figure."""
    size = crop.shape[0]
    fig, axes = plt.subplots(1, 5, figsize=(15, 3.2))
    t = align.template()
    axes[0].scatter(t[:17, 0], t[:17, 1], s=8, c="0.6", label="jaw (not fitted)")
    axes[0].scatter(t[17:, 0], t[17:, 1], s=8, c="tab:green", label="inner 51")
    axes[0].invert_yaxis()
    axes[0].set_aspect("equal")
    axes[0].legend(fontsize=7)
    axes[0].set_title("1. template")
    axes[1].imshow(draw_landmarks(frame, landmarks))
    axes[1].set_title(f"2. landmarks ({detector})" if detector else "2. landmarks")
    axes[2].imshow(crop)
    box = align.central(size)
    side = box.stop - box.start
    axes[2].add_patch(plt.Rectangle((box.start, box.start), side, side, fill=False, ec="yellow"))
    axes[2].set_title("3. aligned crop (template box)")
    axes[3].imshow(mask, cmap="gray")
    axes[3].set_title("4. face mask")
    axes[4].imshow(align.uncrop(crop, matrix, frame.shape))
    axes[4].set_title("the crop put back (inverse)")
    for ax in axes[1:]:
        ax.axis("off")
    fig.tight_layout()
    return fig


def plot_pose_distribution(poses: dict[str, np.ndarray], bins: int = 18):
    """Histograms of yaw and pitch per person; `poses` maps a name to an (N, 2+) array of yaw, pitch."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
    for name, p in poses.items():
        p = np.asarray(p)
        axes[0].hist(p[:, 0], bins=np.linspace(-90, 90, bins + 1), alpha=0.55, label=name)
        axes[1].hist(p[:, 1], bins=np.linspace(-30, 30, 13), alpha=0.55, label=name)
    axes[0].set_xlabel("yaw (degrees, + = facing image right)")
    axes[1].set_xlabel("pitch (degrees, + = looking up)")
    for ax in axes:
        ax.set_ylabel("frames")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_audio_and_mouth(samples: np.ndarray, rate: int, mouth: np.ndarray, fps: float, seconds: float = 4.0):
    """The audio waveform over the mouth opening of the same frames."""
    n = min(len(samples), int(seconds * rate))
    t = np.arange(n) / rate
    fig, ax = plt.subplots(figsize=(10, 2.6))
    ax.plot(t, samples[:n], lw=0.4, color="0.4", label="audio")
    k = min(len(mouth), int(seconds * fps))
    ax.plot(np.arange(k) / fps, mouth[:k], color="tab:red", lw=1.5, label="mouth opening")
    ax.set_xlabel("seconds")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    return fig


def show_warp(face: np.ndarray, grid: np.ndarray, jittered: np.ndarray, warped: np.ndarray,
              target: np.ndarray, title: str = ""):
    """The crop with the control grid (white) and its jittered points (red), the warped input, the target."""
    fig, axes = plt.subplots(1, 3, figsize=(9, 3.2))
    axes[0].imshow(face)
    for pts, color in ((grid, "white"), (jittered, "red")):
        for row in pts:
            axes[0].plot(row[:, 0], row[:, 1], color=color, lw=0.8)
        for col in pts.transpose(1, 0, 2):
            axes[0].plot(col[:, 0], col[:, 1], color=color, lw=0.8)
    axes[0].set_title("crop, control grid and its jitter", fontsize=9)
    axes[1].imshow(warped)
    axes[1].set_title("warped input (what the encoder sees)", fontsize=9)
    axes[2].imshow(target)
    axes[2].set_title("target (what the decoder must draw)", fontsize=9)
    for ax in axes:
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_history(history: list[dict], persons: list[str], quality: list[dict] | None = None):
    """Training loss per person (smoothed) and, if given, swap SSIM against the truth over steps and (rows
    with "recognised") the share of swapped faces the recogniser names as B."""
    panels = 1 + bool(quality) + bool(quality and "recognised" in quality[-1])
    fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels if panels > 1 else 6, 3.2), squeeze=False)
    steps = np.array([h["step"] for h in history])
    for p in persons if history else []:  # (nothing to draw before the first step)
        v = np.array([h[p] for h in history])
        k = max(1, len(v) // 50)
        smooth = np.convolve(v, np.ones(k) / k, mode="valid")
        axes[0, 0].plot(steps[k - 1:], smooth, label=p)
    axes[0, 0].set_xlabel("step")
    axes[0, 0].set_ylabel("training loss")  # L1, masked or not, plus the SSIM term if one is set
    axes[0, 0].set_yscale("log")
    if history:
        axes[0, 0].legend(fontsize=8)
    if quality:
        q = np.array([[r["step"], r["ssim"], r["baseline"]] for r in quality])
        axes[0, 1].plot(q[:, 0], q[:, 1], "o-", label="swap vs truth")
        axes[0, 1].axhline(q[-1, 2], ls="--", color="0.5", label="unswapped source vs truth")
        if "ceiling" in quality[-1]:
            axes[0, 1].axhline(quality[-1]["ceiling"], ls=":", color="tab:green", label="a perfect decoder")
        axes[0, 1].set_xlabel("step")
        axes[0, 1].set_ylabel("masked SSIM")
        axes[0, 1].legend(fontsize=8)
    if panels == 3:
        _plot_recognition(axes[0, 2], quality)
    fig.tight_layout()
    return fig


def _plot_recognition(ax, quality: list[dict]) -> None:
    """The recogniser's share of swapped faces named as B over steps, with doing nothing and the ceiling."""
    rows = [r for r in quality if "recognised" in r]
    ax.plot([r["step"] for r in rows], [r["recognised"] for r in rows], "o-", color="tab:red", label="swap")
    ax.axhline(rows[-1]["recognised_nothing"], ls="--", color="0.5", label="unswapped source")
    ax.axhline(rows[-1]["recognised_ceiling"], ls=":", color="tab:green", label="B's true face core pasted")
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("step")
    ax.set_ylabel("recognised as B (share of faces)")
    ax.legend(fontsize=8)


def plot_codes(scores: np.ndarray, labels: np.ndarray, yaw: np.ndarray | None = None, explained=None):
    """Codes projected on their first two principal directions, coloured by person and (if given) by yaw."""
    both = yaw is not None
    fig, axes = plt.subplots(1, 2 if both else 1, figsize=(10 if both else 5, 4), squeeze=False)
    ax = axes[0, 0]
    for p in dict.fromkeys(labels):
        sel = labels == p
        ax.scatter(scores[sel, 0], scores[sel, 1], s=8, alpha=0.7, label=p)
    ax.legend(fontsize=8)
    ax.set_title("coloured by person", fontsize=9)
    if yaw is not None:
        sc = axes[0, 1].scatter(scores[:, 0], scores[:, 1], s=8, c=yaw, cmap="coolwarm", vmin=-90, vmax=90)
        fig.colorbar(sc, ax=axes[0, 1], label="yaw (degrees)")
        axes[0, 1].set_title("coloured by yaw", fontsize=9)
    for a in axes[0]:
        pct = ["", ""] if explained is None else [f" ({100 * e:.0f}% of the variance)" for e in explained[:2]]
        a.set_xlabel("direction 1" + pct[0])
        a.set_ylabel("direction 2" + pct[1])
    fig.tight_layout()
    return fig


def image_grid(rows: Sequence[Sequence[np.ndarray]], row_titles: Sequence[str], col_titles: Sequence[str],
               size: float = 1.4, suptitle: str | None = None):
    """A grid of equally sized images with a title per row and per column; returns the figure."""
    n_rows, n_cols = len(rows), max(len(r) for r in rows)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(n_cols * size + 1.2, n_rows * size), squeeze=False)
    for i, row in enumerate(rows):
        for j in range(n_cols):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if j < len(row):
                ax.imshow(row[j])
            if i == 0:
                ax.set_title(col_titles[j], fontsize=8)
        axes[i, 0].set_ylabel(row_titles[i], fontsize=8, rotation=0, ha="right", va="center")
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout()
    return fig


def png_bytes(image: np.ndarray, scale: int = 1) -> bytes:
    """An RGB uint8 image encoded as PNG (optionally enlarged by an integer factor, nearest neighbour)."""
    if scale > 1:
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    ok, buf = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return buf.tobytes()
