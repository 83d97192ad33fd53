"""faceswap-lab's core: one module per stage of DeepFakes-style face swapping (see the notebooks)."""

from .errors import FaceswapError

__version__ = "0.1.0"
__all__ = ["FaceswapError", "__version__"]
