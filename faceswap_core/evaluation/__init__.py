"""Evaluation (chapters 04-08): pixel scores against the truth (`truth_scores`), held-out frames ready to
score (`truth_probe`), the recogniser's verdict on swaps of cast frames beside the classic ceiling
(`recognition`), the classic claims (`claims`) and the failure-case and reuse experiments
(`experiments`). The verdict itself, which any footage allows, is `faces.identity.recogniser_verdict`."""
