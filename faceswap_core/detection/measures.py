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
