"""Our own identity network: a small CNN that maps a face (as the swap network sees it: 64 px, the face mask
applied) to a unit vector, nearer for two faces of one person than for faces of two. It is trained only on
made-up people (seed<N>, never the named cast), with a margin classifier (CosFace) and blur so that it
judges the soft faces a young decoder draws too.

Why: the classic training never shows decoder B a face of A, so nothing tells it that a swap must look like
B; an identity loss on the swap (SimSwap, FaceShifter) does. The judge of the suite stays dlib's recogniser,
which no loss may use (docs/training.md): this net is a different network, trained here, on other people.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn
from torch.nn import functional as F

from ..errors import FaceswapError
from ..files import AtomicPath, write_json
from . import augment
from .pretrain import file_hash

FORMAT = "faceswap-lab identity net"
VERSION = 1
SIZE = 64  # the input: the network view of a face, as the decoders draw it
DIM = 128
SCALE, MARGIN = 16.0, 0.2  # CosFace: logits s * (cos - m for the true person)


def shipped() -> Path:
    """The identity net that ships with the package."""
    return Path(__file__).resolve().parent.parent / "bases" / "identity.safetensors"


class IdentityNet(nn.Module):
    """(N, 3, 64, 64) faces in [0, 1], mask applied -> (N, DIM) unit vectors."""

    def __init__(self, width: int = 32):
        super().__init__()
        layers, cin = [], 3
        for f in (width, 2 * width, 4 * width, 8 * width):  # 64 -> 4 px
            layers += [nn.Conv2d(cin, f, 3, padding=1), nn.LeakyReLU(0.1),
                       nn.Conv2d(f, f, 3, stride=2, padding=1), nn.LeakyReLU(0.1)]
            cin = f
        self.convs = nn.Sequential(*layers)
        self.to_vector = nn.Linear(cin * 16, DIM)
        self.width = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.to_vector(self.convs(x - 0.5).flatten(1)), dim=1)


def views(images: torch.Tensor, masks: torch.Tensor, gen: torch.Generator, coverage: float,
          blur: bool = True) -> torch.Tensor:
    """Face crops (N, 3, H, W) and masks (N, 1, H, W) in [0, 1] -> randomly moved 64 px views, the mask
    applied; with `blur`, each view seen at a random size from 16 to 64 px (a young decoder's softness)."""
    x, _, m = augment.training_pair(images, gen, SIZE, coverage, masks, warp=0.0)
    x = x * m
    if blur:
        sizes = torch.randint(16, SIZE + 1, (len(x),), generator=gen)
        x = torch.stack([soften(v[None], int(s))[0] for v, s in zip(x, sizes)])
    return x


def soften(x: torch.Tensor, size: int) -> torch.Tensor:
    """(N, C, S, S) seen at `size` px (area) and scaled back (bilinear); unchanged if `size` is 0 or >= S."""
    if not size or size >= x.shape[-1]:
        return x
    small = F.interpolate(x, size=(size, size), mode="area")
    return F.interpolate(small, size=x.shape[-2:], mode="bilinear", align_corners=False)


def train_net(images: np.ndarray, masks: np.ndarray, who: np.ndarray, steps: int = 1500, batch: int = 128,
              seed: int = 0, coverage: float = 0.625, progress: bool = True) -> tuple[IdentityNet, float]:
    """Train an `IdentityNet` on face crops (N, H, W, 3) uint8 with masks (N, H, W) uint8 and person indices
    `who`; returns the net and its last classification accuracy (a share of the batch)."""
    from ..progress import progress_bar

    people = int(np.max(who)) + 1
    imgs = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()
    msk = torch.from_numpy(masks)[:, None].contiguous()
    labels = torch.from_numpy(np.asarray(who, np.int64))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = IdentityNet()
        classes = nn.Parameter(F.normalize(torch.randn(people, DIM), dim=1))
    opt = torch.optim.Adam(list(net.parameters()) + [classes], lr=1e-3)
    gen, acc = torch.Generator(), []
    for step in progress_bar(range(steps), desc="identity net", unit="step", enabled=progress):
        gen.manual_seed(int(np.random.SeedSequence([seed, 4242, step]).generate_state(1)[0]))
        for g in opt.param_groups:
            g["lr"] = 1e-3 * 0.5 * (1 + np.cos(np.pi * step / steps))
        idx = torch.randint(len(labels), (batch,), generator=gen)
        x = views(imgs[idx].float() / 255, msk[idx].float() / 255, gen, coverage)
        cos = net(x) @ F.normalize(classes, dim=1).T
        y = labels[idx]
        logits = SCALE * (cos - MARGIN * F.one_hot(y, people))
        loss = F.cross_entropy(logits, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        acc.append(float((cos.argmax(1) == y).float().mean()))
    net.eval()
    return net, float(np.mean(acc[-50:]))


@torch.no_grad()
def person_vector(net: IdentityNet, images: torch.Tensor, masks: torch.Tensor,
                  coverage: float) -> torch.Tensor:
    """The unit mean of a person's face vectors: face crops (N, 3, H, W) and masks in [0, 1], unmoved."""
    _, x, m = augment.random_warp(images, torch.Generator(), SIZE, coverage, strength=0, masks=masks)
    vectors = torch.cat([net(v) for v in torch.split(x * m, 256)])
    return F.normalize(vectors.mean(0), dim=0)


def save(net: IdentityNet, out: str | Path, meta: dict[str, str]) -> Path:
    """Write the net as float16 (temp file, then rename) with its metadata and a JSON record beside it."""
    out = Path(out)
    tensors = {k: v.detach().to("cpu", torch.float16).contiguous() for k, v in net.state_dict().items()}
    meta = {"format": FORMAT, "version": str(VERSION), "width": str(net.width), **meta}
    target = AtomicPath(out, overwrite=True)
    try:
        save_file(tensors, str(target.tmp), metadata=meta)
        target.commit()
    except BaseException:
        target.discard()
        raise
    write_json(out.with_suffix(".json"), {"file": out.name, "bytes": out.stat().st_size,
                                          "sha256": file_hash(out), **meta}, indent=1)
    return out


def load(path: str | Path) -> IdentityNet:
    """The net in `path`, checked: one line naming the file and the command that rebuilds it otherwise."""
    path = Path(path)
    rebuild = f"rebuild it with `faceswap-core pretrain --identity-net --out {path}`"
    try:
        from safetensors import safe_open

        with safe_open(str(path), "pt") as f:
            meta = f.metadata() or {}
        tensors = {k: v.float() for k, v in load_file(str(path)).items()}
    except FileNotFoundError:
        raise FaceswapError(f"{path}: no identity net here; {rebuild}") from None
    except (SafetensorError, OSError, ValueError) as e:
        raise FaceswapError(f"{path}: a damaged identity net ({str(e)[:60]}); {rebuild}") from None
    if meta.get("format") != FORMAT or meta.get("version") != str(VERSION):
        raise FaceswapError(f"{path}: not a version-{VERSION} identity net; {rebuild}")
    try:
        net = IdentityNet(int(meta.get("width", "32")))
        net.load_state_dict(tensors)
    except (RuntimeError, ValueError) as e:
        raise FaceswapError(f"{path}: its weights do not fit ({str(e).splitlines()[0][:60]}); {rebuild}"
                            ) from None
    net.eval()
    for q in net.parameters():
        q.requires_grad_(False)
    return net
