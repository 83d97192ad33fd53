"""An error-correcting code over the watermark's payload: the rate-1/2 convolutional code of constraint
length 7 (generators 171, 133 octal: the one of Voyager, 802.11 and DVB), zero-terminated, decoded by soft
Viterbi. Its free distance is 10: a payload read from soft votes survives far weaker or partly missing
votes than the same bits each repeated twice (distance 2). The watermark relies on that where the picture is
flat and carries little or nothing of the mark.

Soft votes follow the watermark's sign convention: > 0 says 1, < 0 says 0, 0 says nothing (an erasure)."""

from __future__ import annotations

import functools

import numpy as np

MEMORY = 6  # constraint length 7
GENERATORS = (0o171, 0o133)
RATE = len(GENERATORS)


def coded_length(n_bits: int) -> int:
    """Coded bits for an `n_bits` payload (the tail of MEMORY zeros included)."""
    return RATE * (n_bits + MEMORY)


@functools.lru_cache(maxsize=1)
def _trellis() -> tuple[np.ndarray, np.ndarray]:
    """outputs (64 states, 2 inputs, RATE) as +-1 and, per next state, its two predecessor states."""
    states = 1 << MEMORY
    out = np.zeros((states, 2, RATE), np.float64)
    for s in range(states):
        for u in (0, 1):
            reg = (u << MEMORY) | s
            out[s, u] = [2 * (bin(reg & g).count("1") & 1) - 1 for g in GENERATORS]
    ns = np.arange(states)
    prev = np.stack([(ns & (states // 2 - 1)) << 1, ((ns & (states // 2 - 1)) << 1) | 1], axis=1)
    return out, prev


def encode(bits: np.ndarray) -> np.ndarray:
    """0/1 payload bits -> 0/1 coded bits (coded_length(len(bits)) of them)."""
    out, state = [], 0
    for u in list(np.asarray(bits, dtype=np.int64).reshape(-1)) + [0] * MEMORY:
        reg = (int(u) << MEMORY) | state
        out += [bin(reg & g).count("1") & 1 for g in GENERATORS]
        state = reg >> 1
    return np.array(out, dtype=np.int64)


def decode(votes: np.ndarray, n_bits: int) -> np.ndarray:
    """The most likely payload (0/1 bits) for soft votes of its coded bits (maximum correlation path)."""
    votes = np.asarray(votes, dtype=np.float64).reshape(-1, RATE)
    if votes.shape[0] != n_bits + MEMORY:
        raise ValueError(f"{votes.size} votes do not fit a {n_bits}-bit payload "
                         f"({coded_length(n_bits)} expected)")
    out, prev = _trellis()
    states = 1 << MEMORY
    metric = np.full(states, -np.inf)
    metric[0] = 0.0
    ns = np.arange(states)
    u = ns >> (MEMORY - 1)  # the input bit that leads into each state
    choice = np.zeros((votes.shape[0], states), np.int64)
    for t, v in enumerate(votes):
        branch = out @ v  # (states, 2): correlation of each branch's output with the votes
        cand = metric[prev] + branch[prev, u[:, None]]  # (next state, 2 predecessors)
        pick = np.argmax(cand, axis=1)
        choice[t] = prev[ns, pick]
        metric = cand[ns, pick]
    state, bits = 0, []  # zero-terminated: the path ends in state 0
    for t in range(votes.shape[0] - 1, -1, -1):
        bits.append(state >> (MEMORY - 1))
        state = choice[t, state]
    return np.array(bits[::-1][:n_bits], dtype=np.int64)


__all__ = ["GENERATORS", "MEMORY", "RATE", "coded_length", "decode", "encode"]
