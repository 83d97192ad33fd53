"""How much the shared code says who a face is. A swap gives decoder B the codes of A's faces; if those codes
are easy to tell from B's, decoder B is drawing from codes it never saw (identity leaks through the shared
code). Measured in `benchmarks/bench_train.py` and docs/training.md.

- `linear_probe`: a logistic regression on the codes of A's and B's training faces, scored on held-out faces
  of both: held-out accuracy 0.5 means the code does not say who it is, 1.0 that a line separates them.
- `outside`: how far A's codes lie from B's: the median distance of an A code to its nearest B code, over the
  median distance of a B code to its nearest other B code (about 1: A's codes lie among B's; far above 1:
  outside the region decoder B was trained on).
"""

from __future__ import annotations

import torch


@torch.no_grad()
def codes(model, faces: torch.Tensor, batch: int = 64) -> torch.Tensor:
    """(N, dense) shared codes of aligned network inputs `faces` (N, 3, S, S) in [0, 1]."""
    model.eval()
    device = next(model.parameters()).device
    return torch.cat([model.encoder.code(faces[i:i + batch].to(device)).float().cpu()
                      for i in range(0, len(faces), batch)])


@torch.no_grad()
def decode(model, faces: torch.Tensor, person: str) -> torch.Tensor:
    """`faces` (N, 3, S, S) through the encoder and `person`'s decoder, on the CPU."""
    model.eval()
    return model(faces.to(next(model.parameters()).device), person).float().cpu()


def linear_probe(train_a: torch.Tensor, train_b: torch.Tensor, test_a: torch.Tensor, test_b: torch.Tensor,
                 steps: int = 300, weight_decay: float = 1e-3) -> float:
    """Held-out accuracy of a logistic regression telling A's codes from B's (trained on the `train_*` codes,
    standardised by their statistics; each class weighted equally)."""
    x = torch.cat([train_a, train_b])
    mean, std = x.mean(0), x.std(0).clamp_min(1e-6)
    x = (x - mean) / std
    y = torch.cat([torch.zeros(len(train_a)), torch.ones(len(train_b))])
    w = torch.cat([torch.full((len(c),), 0.5 / len(c)) for c in (train_a, train_b)])
    with torch.enable_grad():
        lin = torch.nn.Linear(x.shape[1], 1)
        opt = torch.optim.LBFGS(lin.parameters(), max_iter=steps, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = (torch.nn.functional.binary_cross_entropy_with_logits(lin(x)[:, 0], y, reduction="none")
                    * w).sum() + weight_decay * lin.weight.square().sum()
            loss.backward()
            return loss

        opt.step(closure)
    with torch.no_grad():
        hit_a = (lin((test_a - mean) / std)[:, 0] < 0).float().mean()
        hit_b = (lin((test_b - mean) / std)[:, 0] > 0).float().mean()
    return float((hit_a + hit_b) / 2)


def outside(codes_a: torch.Tensor, codes_b: torch.Tensor) -> float:
    """Median distance from an A code to its nearest B code over the median nearest-neighbour distance among
    B's codes: about 1 when A's codes lie among B's."""
    to_b = torch.cdist(codes_a, codes_b).min(1).values.median()
    within = torch.cdist(codes_b, codes_b)
    within.fill_diagonal_(float("inf"))
    return float(to_b / within.min(1).values.median().clamp_min(1e-9))
