"""Real faces that ship inside installed packages (scikit-image's astronaut, matplotlib's Grace Hopper), and
copies changed the way a recogniser must shrug off (mirrored, turned 10 degrees, halved). Chapter 02 uses
them to show dlib's landmarks and identity distances on real faces, offline. Images are uint8 RGB."""

from __future__ import annotations

import cv2
import matplotlib.cbook
import numpy as np


def package_photos() -> dict[str, np.ndarray]:
    """{"astronaut": ..., "grace hopper": ...}: two public-domain portraits, RGB."""
    import skimage.data

    grace = cv2.imread(str(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)))
    return {"astronaut": skimage.data.astronaut(), "grace hopper": cv2.cvtColor(grace, cv2.COLOR_BGR2RGB)}


def with_variants(photos: dict[str, np.ndarray], turn: float = 10.0) -> dict[str, np.ndarray]:
    """The photos plus, for each, "<name>, mirrored", "<name>, turned" (by `turn` degrees) and
    "<name>, shrunk" (half size)."""
    out = dict(photos)
    for name, img in photos.items():
        h, w = img.shape[:2]
        out[f"{name}, mirrored"] = np.ascontiguousarray(img[:, ::-1])
        turned = cv2.getRotationMatrix2D((w / 2, h / 2), turn, 1.0)
        out[f"{name}, turned"] = cv2.warpAffine(img, turned, (w, h))
        out[f"{name}, shrunk"] = cv2.resize(img, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    return out
