"""Interactive explorers for the notebooks. Each has an `update(...)` that tests call with no browser and
that also draws a static figure, so a notebook run headless still shows something useful."""

from __future__ import annotations

import numpy as np
import torch

from . import augment, viz


class WarpExplorer:
    """Sliders for warp strength, rotation and zoom over one aligned face (chapter 03)."""

    def __init__(self, face: np.ndarray, size: int = 64, coverage: float = 0.625):
        self.face = face  # an aligned crop, uint8 HxWx3
        self.size, self.coverage = size, coverage
        self.last: tuple[np.ndarray, np.ndarray] | None = None

    def update(self, strength: float = 1.0, rotation: float = 0.0, zoom: float = 0.0, seed: int = 0,
               draw: bool = True):
        """Warp the face with these settings; returns (warped input, clean target) as uint8 images."""
        img = augment.to_tensor(self.face[None])
        gen = torch.Generator().manual_seed(int(seed))
        ranges = augment.TransformRange(rotation=0, zoom=0, shift=0, flip=0)
        moved = augment.random_transform(img, gen, ranges)
        if rotation or zoom:
            angle, scale = np.radians(rotation), 1.0 + zoom
            m = torch.tensor([[[np.cos(angle) / scale, -np.sin(angle) / scale, 0.0],
                               [np.sin(angle) / scale, np.cos(angle) / scale, 0.0]]], dtype=torch.float32)
            grid = torch.nn.functional.affine_grid(m, list(moved.shape), align_corners=False)
            moved = torch.nn.functional.grid_sample(moved, grid, padding_mode="border", align_corners=False)
        offsets = augment.warp_offsets(1, gen, strength=strength)
        warped, target = augment.random_warp(moved, gen, self.size, self.coverage, offsets=offsets)
        self.last = (augment.to_images(warped)[0], augment.to_images(target)[0])
        if draw:
            pts = augment.control_points(self.face.shape[0], self.coverage).numpy()
            moved_pts = pts + offsets[0].permute(1, 2, 0).numpy() * self.face.shape[0] / 2
            viz.show_warp(augment.to_images(moved)[0], pts, moved_pts, *self.last,
                          f"strength {strength:.2f}, rotation {rotation:+.0f} deg, zoom {zoom:+.2f}")
        return self.last

    def interactive(self):
        """The ipywidgets version (use in JupyterLab)."""
        from ipywidgets import FloatSlider, IntSlider, fixed, interact

        def show(**settings) -> None:  # returns nothing: interact would otherwise print the arrays
            self.update(**settings)

        return interact(show, strength=FloatSlider(value=1.0, min=0, max=4, step=0.25),
                        rotation=FloatSlider(value=0, min=-30, max=30, step=1),
                        zoom=FloatSlider(value=0, min=-0.3, max=0.3, step=0.01),
                        seed=IntSlider(value=0, min=0, max=20), draw=fixed(True))
