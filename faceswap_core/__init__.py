"""faceswap-lab's core: one module per stage of DeepFakes-style face swapping (see the notebooks).

Data flows one way, and so do the imports: a module imports only modules to its left in this order
(tests/test_layout.py fails otherwise).

    ground      errors, device, workspace (names, folders, atomic writes, locks), media (video/audio I/O)
    the cast    synth.cast -> synth.geometry -> synth.raycast -> synth.motion -> synth.clips -> synth
    stages      pipeline -> collect -> align -> dlibface -> detect -> steady -> identity -> faceset -> curate
                -> augment -> metrics -> claims
                -> model -> checkpoint -> train -> swap -> convert -> credentials -> forensics -> spot -> spotter
    top         experiments -> spotset -> report -> viz -> widgets -> tour -> cli
"""

from .errors import FaceswapError

MODULES = ("errors", "device", "workspace", "media",
           "synth.cast", "synth.geometry", "synth.raycast", "synth.motion", "synth.clips", "synth",
           "pipeline", "collect", "align", "dlibface", "detect", "steady", "identity", "faceset", "curate", "augment",
           "metrics", "claims",
           "model", "checkpoint", "train", "swap", "convert", "credentials", "forensics", "spot", "spotter",
           "experiments", "spotset", "report", "viz", "widgets", "tour", "cli")

__version__ = "0.1.0"
__all__ = ["MODULES", "FaceswapError", "__version__"]
