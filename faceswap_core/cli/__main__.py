"""`python -m faceswap_core.cli`: the same as the `faceswap-core` command."""

from . import main

if __name__ == "__main__":
    raise SystemExit(main())
