"""The autoencoder: one shared encoder, one decoder per person. Taught in chapter 04.

Input and output are ``float32 (N, 3, S, S)`` in [0, 1] with S = config.image_size (64 in the classic).
`original` follows the classic layer sizes; `lite` has a quarter of the filters and trains on a CPU.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ..errors import FaceswapError
from ..faces.align import CORE


@dataclass(frozen=True)
class ModelConfig:
    """Layer sizes of the autoencoder (saved as JSON beside the weights)."""

    name: str = "original"
    image_size: int = 64
    encoder_filters: tuple[int, ...] = (128, 256, 512, 1024)
    dense: int = 1024  # the bottleneck: the size of the shared code
    code_channels: int = 1024  # the code is reshaped to 4x4 x this before upscaling
    encoder_upscale: int = 512
    decoder_filters: tuple[int, ...] = (256, 128, 64)
    # the encoder looks at the face at this size (area-downsampled, then back up; 0 = full size): the code
    # cannot carry the fine details, so each decoder draws its own person's
    encoder_view: int = 0
    # each decoder holds a learned identity vector of this size, added (projected) to the feature map it
    # reads: a base's generic decoder draws whoever its vector says (0 = none, the classic decoder)
    identity_dim: int = 0
    # 1: the identity vector also scales and shifts every decoder layer's channels (FiLM), not only the map
    # the decoder reads, so it can say where a beard or a brow goes
    identity_film: int = 0

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        """A config read from a file, checked: whole numbers in range, and a model of at most
        `MAX_PARAMETERS` (a damaged or hostile file must not make us allocate terabytes). ValueError or
        TypeError says what is wrong."""
        d = dict(d)
        for k in ("encoder_filters", "decoder_filters"):
            d[k] = tuple(d[k])
            if not 1 <= len(d[k]) <= 8:
                raise ValueError(f"{k} {list(d[k])}: 1 to 8 layers")
        c = cls(**d)
        for k, low in (("image_size", 16), ("dense", 1), ("code_channels", 1), ("encoder_upscale", 1),
                       ("encoder_view", 0), ("identity_dim", 0)):
            _whole(k, getattr(c, k), low)
        _whole("identity_film", c.identity_film, 0, 1)
        for k in ("encoder_filters", "decoder_filters"):
            for v in getattr(c, k):
                _whole(k, v, 1)
        if not isinstance(c.name, str):
            raise ValueError(f"name {c.name!r}: not a name")
        try:
            with torch.device("meta"):  # counts the parameters without allocating them
                n = parameter_count(FaceSwapModel(c, ["a"]))
        except FaceswapError as e:  # layer sizes that do not fit together
            raise ValueError(str(e)) from None
        if n > MAX_PARAMETERS:
            raise ValueError(f"an encoder and decoder of {n / 1e6:,.0f} million parameters, over the "
                             f"{MAX_PARAMETERS / 1e6:,.0f} million this project builds")
        return c


MAX_PARAMETERS = 400_000_000  # 1.6 GB of float32 weights (+ Adam's two moments): `original` has about 60 M


def _whole(name: str, value, low: int, high: int = 1 << 16) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValueError(f"{name} {value!r}: a whole number from {low} to {high}")


CONFIGS = {
    "original": ModelConfig(),
    "lite": ModelConfig(name="lite", encoder_filters=(32, 64, 128, 256), dense=512, code_channels=256,
                        encoder_upscale=128, decoder_filters=(64, 32, 16)),
}


def get_config(name: str) -> ModelConfig:
    if name not in CONFIGS:
        raise FaceswapError(f"unknown model config {name!r}: use one of {', '.join(CONFIGS)}")
    return CONFIGS[name]


class Upscale(nn.Sequential):
    """Conv 3x3 to 4x the filters, LeakyReLU 0.1, pixel shuffle: doubles the size."""

    def __init__(self, cin: int, cout: int):
        super().__init__(nn.Conv2d(cin, cout * 4, 3, padding=1), nn.LeakyReLU(0.1), nn.PixelShuffle(2))


class Encoder(nn.Module):
    """Image -> shared code -> a small feature map every decoder starts from."""

    def __init__(self, c: ModelConfig):
        super().__init__()
        layers, cin = [], 3
        for f in c.encoder_filters:
            layers += [nn.Conv2d(cin, f, 5, stride=2, padding=2), nn.LeakyReLU(0.1)]
            cin = f
        self.convs = nn.Sequential(*layers)
        side = c.image_size // 2 ** len(c.encoder_filters)  # 4 for 64 px and four convs
        self.code_side = 4
        self.to_code = nn.Linear(cin * side * side, c.dense)
        self.from_code = nn.Linear(c.dense, c.code_channels * 4 * 4)
        self.upscale = Upscale(c.code_channels, c.encoder_upscale)
        self.code_channels = c.code_channels
        self.view = c.encoder_view

    def code(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, S, S) -> (N, dense): the shared code."""
        if self.view and self.view < x.shape[-1]:
            size = x.shape[-2:]
            x = F.interpolate(F.interpolate(x, size=(self.view, self.view), mode="area"), size=size,
                              mode="bilinear", align_corners=False)
        return self.to_code(self.convs(x).flatten(1))

    def expand(self, z: torch.Tensor) -> torch.Tensor:
        """(N, dense) -> (N, encoder_upscale, 8, 8): what the decoders read."""
        return self.upscale(self.from_code(z).view(-1, self.code_channels, 4, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.expand(self.code(x))


class Decoder(nn.Module):
    """Feature map -> one person's face."""

    def __init__(self, c: ModelConfig):
        super().__init__()
        layers, cin = [], c.encoder_upscale
        for f in c.decoder_filters:
            layers.append(Upscale(cin, f))
            cin = f
        side = 8 * 2 ** len(c.decoder_filters)
        if side != c.image_size:
            raise FaceswapError(f"config {c.name}: decoders reach {side} px, not image_size {c.image_size}")
        self.body = nn.Sequential(*layers)
        self.to_rgb = nn.Conv2d(cin, 3, 5, padding=2)
        if c.identity_dim:
            self.identity = nn.Parameter(torch.zeros(c.identity_dim))
            self.from_identity = nn.Linear(c.identity_dim, c.encoder_upscale)
            if c.identity_film:  # a scale and a shift per channel of every layer, zero at the start
                self.widths = list(c.decoder_filters)
                self.film = nn.Linear(c.identity_dim, 2 * sum(self.widths))
                nn.init.zeros_(self.film.weight)
                nn.init.zeros_(self.film.bias)

    def forward(self, h: torch.Tensor, identity: torch.Tensor | None = None) -> torch.Tensor:
        """Draw the face from the feature map `h`; an identity-conditioned decoder draws `identity` ((N, d)
        vectors; default its own vector)."""
        if not hasattr(self, "identity"):
            return torch.sigmoid(self.to_rgb(self.body(h)))
        who = self.identity[None] if identity is None else identity
        h = h + self.from_identity(who)[:, :, None, None]
        if not hasattr(self, "film"):
            return torch.sigmoid(self.to_rgb(self.body(h)))
        film = self.film(who)[:, :, None, None]
        at = 0
        for layer, width in zip(self.body, self.widths):
            h = layer(h)
            scale, shift = film[:, at:at + width], film[:, at + width:at + 2 * width]
            h = h * (1 + scale) + shift
            at += 2 * width
        return torch.sigmoid(self.to_rgb(h))


class FaceSwapModel(nn.Module):
    """The shared encoder and a decoder for each person, by name. `coverage` is the share of the classic
    padded crop the network sees (set by training, saved with every checkpoint)."""

    def __init__(self, config: ModelConfig, persons: list[str], coverage: float = CORE):
        super().__init__()
        if len(set(persons)) != len(persons) or not persons:
            raise FaceswapError(f"persons {persons}: give distinct names")
        self.config = config
        self.coverage = coverage
        self.persons = list(persons)
        self.encoder = Encoder(config)
        self.decoders = nn.ModuleDict({p: Decoder(config) for p in persons})

    @classmethod
    def create(cls, config: ModelConfig | str, persons: list[str], seed: int = 0) -> FaceSwapModel:
        """A freshly initialised model; the same seed gives the same weights."""
        config = get_config(config) if isinstance(config, str) else config
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return cls(config, persons)

    def decoder(self, person: str) -> Decoder:
        if person not in self.decoders:
            raise FaceswapError(f"this model has no decoder for {person!r}; "
                                f"it knows {', '.join(self.persons)}")
        return self.decoders[person]

    def forward(self, x: torch.Tensor, person: str, with_code: bool = False):
        """Encode any face, decode it as `person` (with `with_code`: also return the shared code)."""
        code = self.encoder.code(x)
        out = self.decoder(person)(self.encoder.expand(code))
        return (out, code) if with_code else out

    def swap(self, x: torch.Tensor, to: str) -> torch.Tensor:
        return self.forward(x, to)


def fine_tune_start(trained: FaceSwapModel, source: str, target: str) -> FaceSwapModel:
    """A model for (new `source`, `target`) that starts from a trained pair (taught in chapter 08): the
    shared encoder and the target's decoder are kept; the new source's decoder starts from the old
    source's."""
    if target not in trained.persons:
        raise FaceswapError(f"the trained model has no decoder for {target!r} to re-use; "
                            f"fine-tune a model that knows {target}")
    model = FaceSwapModel(trained.config, [source, target], trained.coverage)
    model.encoder.load_state_dict(trained.encoder.state_dict())
    model.decoders[target].load_state_dict(trained.decoders[target].state_dict())
    other = next(p for p in trained.persons if p != target)
    model.decoders[source].load_state_dict(trained.decoders[other].state_dict())
    return model


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def layer_table(model: FaceSwapModel) -> list[tuple[str, str, int]]:
    """(name, output shape, parameters) for each layer of the encoder and one decoder, for chapter 04."""
    rows = []
    x = torch.zeros(1, 3, model.config.image_size, model.config.image_size)
    person = model.persons[0]
    hooks = []
    named = [("encoder." + n, m) for n, m in model.encoder.named_children()] + \
            [(f"decoders.{person}." + n, m) for n, m in model.decoders[person].named_children()]
    for name, mod in named:
        subs = (list(mod.children()) if isinstance(mod, nn.Sequential) and not isinstance(mod, Upscale)
                else [mod])
        for j, sub in enumerate(subs):
            if not any(True for _ in sub.parameters()):
                continue
            label = name if len(subs) == 1 else f"{name}.{j}"
            hooks.append(sub.register_forward_hook(
                lambda m, i, o, label=label: rows.append((label, "x".join(map(str, o.shape[1:])),
                                                          parameter_count(m)))))
    with torch.no_grad():
        model(x, person)
    for h in hooks:
        h.remove()
    return rows


__all__ = ["CONFIGS", "Decoder", "Encoder", "FaceSwapModel", "ModelConfig", "fine_tune_start", "get_config",
           "layer_table", "parameter_count"]
