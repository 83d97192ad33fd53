"""Interactive explorers for the notebooks. Each has an `update(...)` that tests call with no browser and
that also draws a static figure, so a notebook run headless still shows something useful."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..faces.align import CORE
from ..training import augment
from . import viz


class WarpExplorer:
    """Sliders for warp strength, rotation and zoom over one aligned face (chapter 03)."""

    def __init__(self, face: np.ndarray, size: int = 64, coverage: float = CORE):
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


class LatentExplorer:
    """Sliders over the shared code (chapter 06): its main directions (PCA), a walk from a face of A to a
    face of B, and which decoder draws. `update(...)` works with no browser and returns the decoded face."""

    def __init__(self, model, faces: dict[str, np.ndarray], yaw: dict[str, np.ndarray] | None = None,
                 k: int = 4, start: dict[str, int] | None = None, batch: int = 256):
        self.model = model.eval()
        self.device = next(model.parameters()).device
        self.persons = list(faces)
        self.k = k
        self.codes = np.concatenate([self.encode(faces[p], batch) for p in self.persons])  # (N, D)
        self.labels = np.concatenate([[p] * len(faces[p]) for p in self.persons])
        self.yaw = np.concatenate([np.asarray(yaw[p], np.float64) for p in self.persons]) if yaw else None
        self.mean = self.codes.mean(0)
        _, s, vt = np.linalg.svd(self.codes - self.mean, full_matrices=False)
        self.components = vt[:k]  # (k, D) unit directions, largest spread first
        self.spread = s[:k] / np.sqrt(max(len(self.codes) - 1, 1))  # standard deviation along each
        self.explained = s ** 2 / (s ** 2).sum()
        self.scores = (self.codes - self.mean) @ self.components.T  # (N, k)
        start = start or {}
        if yaw and not start:  # the most frontal face of each person
            start = {p: int(np.argmin(np.abs(yaw[p]))) for p in self.persons}
        first = {p: int(np.flatnonzero(self.labels == p)[0]) for p in self.persons}
        self.anchor = {p: self.codes[first[p] + start.get(p, 0)] for p in self.persons}
        self.state = {"decoder": self.persons[-1], "mix": 0.0, **{f"pc{i + 1}": 0.0 for i in range(k)}}
        self.last: np.ndarray | None = None
        self._image = None

    @torch.no_grad()
    def encode(self, faces: np.ndarray, batch: int = 256) -> np.ndarray:
        """(N, S, S, 3) uint8 model-input faces -> (N, D) shared codes."""
        out = [self.model.encoder.code(augment.to_tensor(np.ascontiguousarray(faces[i:i + batch]))
                                       .to(self.device))
               for i in range(0, len(faces), batch)]
        return torch.cat(out).float().cpu().numpy()

    @torch.no_grad()
    def decode(self, codes: np.ndarray, decoder: str) -> np.ndarray:
        """(N, D) codes -> (N, S, S, 3) uint8 faces drawn by one person's decoder."""
        z = torch.as_tensor(np.atleast_2d(codes), dtype=torch.float32, device=self.device)
        return augment.to_images(self.model.decoder(decoder)(self.model.encoder.expand(z)))

    def code(self, mix: float = 0.0, **pcs: float) -> np.ndarray:
        """A's start face moved `mix` of the way to B's, then `pcN` spreads along direction N."""
        a, b = self.persons[0], self.persons[-1]
        z = (1 - mix) * self.anchor[a] + mix * self.anchor[b]
        for i in range(self.k):
            z = z + pcs.get(f"pc{i + 1}", 0.0) * self.spread[i] * self.components[i]
        return z

    def update(self, draw: bool = False, **values) -> np.ndarray:
        """Set any of decoder, mix, pc1..pck and return the decoded face (uint8); `draw` also shows it."""
        unknown = set(values) - set(self.state)
        if unknown:
            raise ValueError(f"unknown control(s) {sorted(unknown)}; use {sorted(self.state)}")
        self.state.update(values)
        s = dict(self.state)
        self.last = self.decode(self.code(**{k: v for k, v in s.items() if k != "decoder"}), s["decoder"])[0]
        if self._image is not None:
            self._image.value = viz.png_bytes(self.last, scale=4)
        if draw:
            desc = ", ".join(f"{k} {v:+.1f}" for k, v in s.items() if k.startswith("pc") and v)
            viz.show_images([self.last], [f"decoder {s['decoder']}, mix {s['mix']:.2f} {desc}"], cols=1,
                            size=3)
        return self.last

    def sweep(self, control: str, values: Sequence[float], decoder: str | None = None) -> list[np.ndarray]:
        """The faces along one control with the others held at 0 (A's start face)."""
        decoder = decoder or self.state["decoder"]
        return list(self.decode(np.stack([self.code(**{control: v}) for v in values]), decoder))

    def sweep_figure(self, values: Sequence[float] = (-2, -1, 0, 1, 2), decoder: str | None = None):
        """One row per direction: the static version of the sliders (what a headless run keeps)."""
        rows = [self.sweep(f"pc{i + 1}", values, decoder) for i in range(self.k)]
        titles = [f"direction {i + 1} ({100 * self.explained[i]:.0f}%)" for i in range(self.k)]
        return viz.image_grid(rows, titles, [f"{v:+g} sd" for v in values],
                              suptitle=f"decoder {decoder or self.state['decoder']}")

    def mix_figure(self, steps: int = 7):
        """From A's face to B's in code space, drawn by each decoder."""
        mixes = np.linspace(0, 1, steps)
        rows = [self.sweep("mix", mixes, p) for p in self.persons]
        return viz.image_grid(rows, [f"decoder {p}" for p in self.persons], [f"mix {m:.2f}" for m in mixes])

    def correlations(self, factors: dict[str, np.ndarray]) -> dict[str, list[float]]:
        """|correlation| of each direction's scores with each factor
        (yaw, mouth, light, person as 0/1 ...)."""
        out = {}
        for name, f in factors.items():
            f = np.asarray(f, np.float64)
            out[name] = [float(abs(np.corrcoef(self.scores[:, i], f)[0, 1])) if f.std() > 0 else 0.0
                         for i in range(self.k)]
        return out

    def interactive(self, limit: float = 3.0):
        """The ipywidgets version: sliders, a decoder toggle and the face, updated live
        (use in JupyterLab)."""
        import ipywidgets as w

        self._image = w.Image(format="png", width=256, height=256)
        self._image.add_class("latent-face")
        sliders = {f"pc{i + 1}": w.FloatSlider(value=self.state[f"pc{i + 1}"], min=-limit, max=limit,
                                               step=0.25, description=f"direction {i + 1}")
                   for i in range(self.k)}
        sliders["mix"] = w.FloatSlider(value=self.state["mix"], min=0, max=1, step=0.05,
                                       description=f"{self.persons[0]} → {self.persons[-1]}")
        toggle = w.ToggleButtons(options=self.persons, value=self.state["decoder"], description="decoder")
        for name, s in sliders.items():
            s.add_class(f"latent-{name}")
            s.observe(lambda ch, name=name: self.update(**{name: ch["new"]}), names="value")
        toggle.observe(lambda ch: self.update(decoder=ch["new"]), names="value")
        self.update()
        return w.HBox([w.VBox([*sliders.values(), toggle]), self._image])
