"""Faces (chapter 02): find them (`detect`, with the backends `cascade`, `fan` and `dlibface`), align them
(`align`), steady their landmarks over time (`steady`), score landmarks against the truth
(`landmark_scores`), tell who it is (`identity`: the recogniser), keep them (`faceset`), extract them from
clips (`extraction`) and prune them (`curate`)."""
