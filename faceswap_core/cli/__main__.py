"""`python -m faceswap_core.cli`: the same as the `faceswap-core` command."""

from . import main

raise SystemExit(main())
