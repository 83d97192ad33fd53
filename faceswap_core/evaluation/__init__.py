"""Evaluation (chapters 04-08): pixel scores against the truth (`truth_scores`), held-out frames ready to
score (`truth_probe`), the classic claims (`claims`) and the failure-case and reuse experiments
(`experiments`). The face recogniser's verdict on a swap, which any footage allows, is
`faces.identity.recogniser_verdict`."""
