"""`faceswap-core <stage> ...`: the notebooks' steps for batch use. Errors print as one line.

`arguments` builds the parser, `commands` holds what each subcommand does; `main` runs one."""

from __future__ import annotations

import os
import sys

from ..errors import FaceswapError
from .arguments import build_parser


def main(argv: list[str] | None = None) -> int:
    """Run one `faceswap-core` command; returns its exit code (errors print as one line, code 2)."""
    ap = build_parser()
    args = ap.parse_args(argv)
    if os.path.exists(args.workspace) and not os.path.isdir(args.workspace):
        ap.error(f"--workspace {args.workspace}: is a file; give a folder (it is made if missing)")
    try:
        return args.func(args) or 0
    except FaceswapError as e:
        print(f"faceswap-core: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # read-only or full disk, a folder where a file belongs: one line, what and where
        where = f"{e.filename}: " if e.filename else ""
        hint = {28: "free some space", 27: "free some space or raise the file-size limit (ulimit -f)",
                30: "choose a writable --workspace", 13: "check its permissions",
                21: "give a file name, not a folder",
                20: "a file stands where a folder belongs"}.get(e.errno, "")
        print(f"faceswap-core: error: {where}{e.strerror or e}" + (f"; {hint}" if hint else ""),
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # train saves its checkpoint before this arrives here
        print("faceswap-core: interrupted", file=sys.stderr)
        return 130
