"""How well a swap detector does: the area under the ROC curve of its scores, and the overlap (IoU) of a
predicted region with the true one. Taught in chapter 09."""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

from ..errors import FaceswapError


def auc(scores, labels) -> float:
    """Area under the ROC curve: the chance that a swapped face scores above a real one (ties count half)."""
    s, y = np.asarray(scores, np.float64), np.asarray(labels).astype(bool)
    if y.all() or not y.any():
        raise FaceswapError("AUC needs both real and swapped faces")
    ranks = rankdata(s)  # ties get the mean of their ranks
    n1, n0 = y.sum(), (~y).sum()
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def iou(predicted: np.ndarray, truth: np.ndarray) -> float:
    """Intersection over union of two boolean masks (1.0 when both are empty)."""
    p, t = np.asarray(predicted, bool), np.asarray(truth, bool)
    union = (p | t).sum()
    return float((p & t).sum() / union) if union else 1.0


def mean_iou(predicted: np.ndarray, masks: np.ndarray) -> float:
    """Mean IoU of predicted regions against true blend weights `masks` (N, H, W) uint8 (a pixel is pasted
    where its weight is above half): `predicted` is (N, H, W) probabilities (above half counts), or one
    (H, W) boolean region used for every face (a fixed guess)."""
    predicted = np.asarray(predicted)
    regions = predicted > 0.5 if predicted.dtype != bool else np.broadcast_to(predicted, masks.shape)
    return float(np.mean([iou(p, w > 127) for p, w in zip(regions, masks)]))


def auc_table(probabilities: dict[str, dict[str, np.ndarray]], labels: dict[str, np.ndarray],
              names: list[str]) -> dict[str, dict[str, float]]:
    """Held-out AUC of each detector `names` in each setting, to 3 decimals (a face a detector could not
    score, NaN, counts as 0.5: undecided)."""
    return {s: {n: round(auc(np.nan_to_num(probabilities[s][n], nan=0.5), labels[s]), 3)
                for n in names} for s in probabilities}
