"""Training (chapters 03-04): the random transform and warp (`augment`), the shared-encoder model (`model`),
the loss (`losses`), the kept recipe (`recipe`), the trainer loop (`train`) and its checkpoints
(`checkpoint`)."""
