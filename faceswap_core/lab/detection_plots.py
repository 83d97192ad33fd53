"""Figures of chapter 09 (spot the swap): what a swap leaves in a frame, the detectors' training curves,
spectra and regression weights, where the nets look, the flicker histogram and the AUC bars. Each returns
its figure; no pipeline logic here."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..detection import nets
from ..detection.features import BINS, Samples
from . import viz


def plot_what_a_swap_leaves(real: np.ndarray, swapped: np.ndarray, weight: np.ndarray, source: str,
                            target: str):
    """A real frame, the same frame swapped, their difference, the true blend weight M and the seam
    4M(1-M)."""
    diff = np.abs(swapped.astype(int) - real.astype(int)).sum(-1)
    titles = [f"real ({source})", f"swapped into {target}", "|difference|", "true blend weight M",
              "seam 4M(1-M)"]
    return viz.show_images([real, swapped, diff, weight, 4 * weight * (1 - weight)], titles, cols=5, size=2.6,
                           cmaps=[None, None, "magma", "gray", "gray"])


def plot_training_losses(losses: dict[str, list[float]], smooth: int = 10):
    """The neural detectors' training losses (BCE), as a running mean of `smooth` steps."""
    names = {"boundary": "region net", "seam": "seam net", "cnn": "CNN"}
    fig, ax = plt.subplots(figsize=(6, 2.6))
    for name, curve in losses.items():
        ax.plot(np.convolve(curve, np.ones(smooth) / smooth, mode="valid"), label=names.get(name, name))
    ax.set_xlabel("step")
    ax.set_ylabel(f"training loss (BCE, mean of {smooth})")
    ax.legend()
    fig.tight_layout()
    return fig


def plot_spectra(train: Samples, held_out: Samples, weights: np.ndarray):
    """Mean spectra of real and swapped faces (training pair solid, held-out pair dashed), and the frequency
    detector's regression weight per band."""
    freq = np.linspace(0, 1, BINS, endpoint=False) + 0.5 / BINS
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 3))
    for label, name, color in ((0, "real", "tab:blue"), (1, "swapped", "tab:red")):
        for part, style, which in ((train, "-", "training"), (held_out, "--", "held-out")):
            ax.plot(freq, np.nanmean(part.spectra[part.label == label], 0), style, color=color,
                    label=f"{name}, {which} pair")
    ax.set_xlabel("spatial frequency (1 = the frame's Nyquist)")
    ax.set_ylabel("log relative power")
    ax.legend(fontsize=7)
    bx.bar(freq, weights, width=0.8 / BINS)
    bx.set_xlabel("spatial frequency")
    bx.set_ylabel("regression weight (+ = swapped)")
    fig.tight_layout()
    return fig


def examples(samples: Samples, swapped: int = 2) -> list[int]:
    """Indices of `swapped` swapped faces spread over the set and one real face from its middle."""
    fakes, reals = np.flatnonzero(samples.label == 1), np.flatnonzero(samples.label == 0)
    return list(fakes[np.linspace(0, len(fakes) - 1, swapped).astype(int)]) + list(reals[[len(reals) // 2]])


def plot_where_they_look(detector, tests: dict[str, Samples], probs: dict, shown: list[tuple[str, int]]):
    """For each (setting, face index): the face's view, the true pasted region, the region and seam the
    boundary nets see, and the CNN's Grad-CAM, with each detector's probability in the titles."""
    fig, axes = plt.subplots(len(shown), 5, figsize=(9.4, 1.9 * len(shown)), squeeze=False)
    for row, (setting, i) in zip(axes, shown):
        one = tests[setting].take([i])
        region, seam = (nets.boundary_maps(net, one.views)[0] for net in (detector.boundary, detector.seam))
        cam = nets.grad_cam(detector.cnn, one.views)[0]
        kind = "swapped" if tests[setting].label[i] else "real"
        panels = ((one.views[0], f"{kind} ({setting})", None), (one.masks[0] / 255, "true region", "gray"),
                  (region, "pasted region, seen", "inferno"),
                  (seam, f"seam, seen (p {probs[setting]['boundary'][i]:.2f})", "inferno"),
                  (cam, f"CNN looks here (p {probs[setting]['cnn'][i]:.2f})", "inferno"))
        for ax, (img, title, cmap) in zip(row, panels):
            ax.imshow(one.views[0])
            if cmap:
                ax.imshow(img, cmap=cmap, alpha=0.65 if ax is not row[1] else 1.0, vmin=0, vmax=1)
            ax.set_title(title, fontsize=8)
            ax.axis("off")
    fig.tight_layout()
    return fig


def plot_flicker(held_out: Samples, every: Samples):
    """Histogram of the log flicker ratio of held-out real and swapped faces (bins spanning `every` face)."""
    fig, ax = plt.subplots(figsize=(6, 2.8))
    bins = np.linspace(np.log(every.flicker.min() + 1e-3), np.log(every.flicker.max() + 1e-3), 30)
    for label, name, color in ((0, "real", "tab:blue"), (1, "swapped", "tab:red")):
        ax.hist(np.log(held_out.flicker[held_out.label == label] + 1e-3), bins, alpha=0.5, color=color,
                label=f"{name} (held-out)")
    ax.set_xlabel("log flicker (face core change / ring change)")
    ax.set_ylabel("faces")
    ax.legend()
    fig.tight_layout()
    return fig


def plot_auc(auc: dict[str, dict[str, float]]):
    """Held-out AUC of each detector (bars) in each setting (colours); 0.5 is chance."""
    settings = list(auc)
    names = list(auc[settings[0]])
    fig, ax = plt.subplots(figsize=(8, 3))
    width = 0.8 / len(settings)
    for j, s in enumerate(settings):
        ax.bar(np.arange(len(names)) + j * width, [auc[s][n] for n in names], width, label=s)
    ax.axhline(0.5, color="0.4", ls="--", lw=0.8)
    ax.set_xticks(np.arange(len(names)) + 0.4 - width / 2, names)
    ax.set_ylabel("held-out AUC")
    ax.set_ylim(0, 1.2)
    ax.legend(fontsize=7, ncol=4, loc="upper center")
    fig.tight_layout()
    return fig
