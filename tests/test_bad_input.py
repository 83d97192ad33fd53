"""Bad input against the real CLI, as a hostile new user would give it: every probe must end with exit code
2 (or what it names), one line on stderr that says what and where, and every file that existed before
byte-identical afterwards (no temp left, nothing new but lock files). A read-only folder is a read-only bind
mount in a mount namespace (root ignores file modes) or, for other users, a folder without write permission;
a full disk is a file-size limit (`ulimit -f`: writes past it fail with EFBIG)."""

from __future__ import annotations

import hashlib
import os
import re
import resource
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from faceswap_core import files

BAR = re.compile(r"\d+%\||\d+(frame|step|it)?/s\]|\?(frame|step|it)/s\]")  # a progress bar on stderr
LOCK = re.compile(r"(^|/)\.([\w-]+\.)?lock$")
CLIP = "ws/clips/ines/ines_s0_8f_96px.mp4"
MODEL = "ws/models/ines-tomas-lite"


def cli(args: list[str], cwd: Path, read_only: str | None = None, file_limit: int | None = None,
        timeout: int = 300) -> subprocess.CompletedProcess:
    """Run `faceswap-core ARGS` in `cwd`, with the folder `read_only` (relative to cwd) read-only to it, or
    with a file-size limit in bytes (a full disk)."""
    env = {**os.environ, "TQDM_DISABLE": "1", "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "faceswap_core.cli", *args]
    if read_only and os.geteuid() == 0:  # root ignores file modes: a read-only bind mount in a mount namespace
        command = ["unshare", "-m", "sh", "-c", 'mount --bind -o ro "$0" "$0" && exec "$@"', str(cwd / read_only),
                   *command]
    modes = {}
    if read_only and os.geteuid() != 0:
        for p in [cwd / read_only, *(cwd / read_only).rglob("*")]:
            if p.is_dir():
                modes[p] = p.stat().st_mode
                p.chmod(modes[p] & ~0o222)

    def limit():
        if file_limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_limit, file_limit))

    try:
        return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
                              preexec_fn=limit)
    finally:
        for p, mode in modes.items():
            p.chmod(mode)


def _read_only_works() -> str | None:
    """Why read-only probes cannot run here (None when they can)."""
    if os.geteuid() != 0:
        return None
    if not shutil.which("unshare"):
        return "root ignores file modes and `unshare` (for a read-only bind mount) is missing"
    with tempfile.TemporaryDirectory() as d:
        done = subprocess.run(["unshare", "-m", "sh", "-c", f'mount --bind -o ro {d} {d} && touch {d}/x'],
                              capture_output=True, text=True)
        if "Read-only" not in done.stderr:
            return f"root ignores file modes and a read-only bind mount failed: {done.stderr.strip()[:200]}"
    return None


def snapshot(root: Path, cache: dict) -> dict[str, str]:
    """Every file under root (but lock files): path -> content digest (cached by inode, size and times)."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if LOCK.search(rel):
            continue  # lock files hold a writer's pid while it runs
        st = p.lstat()
        if stat.S_ISDIR(st.st_mode):
            out[rel + "/"] = "dir"
            continue
        key = (st.st_ino, st.st_size, st.st_mtime_ns)  # (not ctime: linking a file into a copy changes it)
        if key not in cache:
            cache[key] = hashlib.blake2b(p.read_bytes(), digest_size=16).hexdigest()
        out[rel] = cache[key]
    return out


@pytest.fixture(scope="module")
def root():
    """A small complete workspace made through the CLI: two cast clips, two face sets, a lite model trained
    two steps, one converted output; plus bad inputs under in/."""
    base = Path(tempfile.mkdtemp(prefix="bad-input-"))
    steps = [["collect", "synthetic:ines", "--person", "ines", "--frames", "8", "--size", "96", "--workspace", "ws"],
             ["collect", "synthetic:tomas", "--person", "tomas", "--frames", "8", "--size", "96", "--workspace", "ws"],
             ["extract", "ws/clips/ines", "--person", "ines", "--size", "64", "--min-size", "1", "--detector",
              "truth", "--workspace", "ws"],
             ["extract", "ws/clips/tomas", "--person", "tomas", "--size", "64", "--min-size", "1", "--detector",
              "truth", "--workspace", "ws"],
             ["train", "--persons", "ines", "tomas", "--steps", "2", "--batch-size", "2", "--checkpoint-every", "2",
              "--workspace", "ws"],
             ["convert", CLIP, "--model", MODEL, "--to", "tomas", "--out", "ws/outputs/a.mp4", "--detector", "truth",
              "--min-size", "1"]]
    for args in steps:
        done = cli(args, base)
        assert done.returncode == 0, (args, done.stderr)
    inp = base / "in"
    inp.mkdir()
    (inp / "broken.mp4").write_bytes(b"\x00" * 2000)
    (inp / "notes.txt").write_text("not a video")
    (inp / "empty").mkdir()
    (inp / "texts").mkdir()
    (inp / "texts" / "a.txt").write_text("x")
    _detector_files(inp)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def _detector_files(inp: Path) -> None:
    """Swap-detector inputs: an (untrained) detector file, one cut short, one of another version, a video
    without a face."""
    import numpy as np
    from safetensors import safe_open
    from safetensors.torch import save_file

    from faceswap_core import encode
    from faceswap_core.detection import swap_detector

    good = swap_detector.SwapDetector(width=8).save(inp / "swap_detector.safetensors")
    (inp / "cut.safetensors").write_bytes(good.read_bytes()[:400])
    with safe_open(str(good), framework="pt") as f:
        save_file({k: f.get_tensor(k) for k in f.keys()}, str(inp / "old.safetensors"),
                  metadata={**f.metadata(), "version": "0"})
    encode.write_video(inp / "grey.mp4", [np.full((96, 96, 3), 128, np.uint8)] * 8, 25.0)


@dataclass
class Probe:
    """One bad input: the CLI arguments, the message it must give (a regex), and how it is run."""

    args: list[str]
    message: str
    code: int = 2
    read_only: str | None = None  # this folder is read-only to the run
    file_limit: int | None = None  # bytes: a full disk
    setup: list[str] = field(default_factory=list)  # named preparations (see PREPARE)


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


ws = ["--workspace", "ws"]
TRAIN = ["train", "--persons", "ines", "tomas", "--steps", "3", *ws]
CONVERT = ["convert", CLIP, "--model", MODEL, "--to", "tomas", "--detector", "truth", "--min-size", "1"]
EXTRACT = ["extract", CLIP, "--person", "newface", "--detector", "truth", "--min-size", "1", "--size", "64", *ws]
SCAN = ["scan", CLIP, "--swap-detector", "in/swap_detector.safetensors", "--detector", "truth"]
COLLECT = ["collect", "synthetic:mei", "--person", "mei", "--frames", "8", "--size", "96", *ws]

PROBES: dict[str, Probe] = {
    # collect
    "collect frames 0": Probe([*COLLECT, "--frames", "0"], r"argument --frames: 0: it must be at least 1"),
    "collect frames -3": Probe([*COLLECT, "--frames=-3"], r"argument --frames: -3: it must be at least 1"),
    "collect size 10": Probe([*COLLECT, "--size", "10"], r"argument --size: 10: it must be from 32 to 4096"),
    "collect size abc": Probe([*COLLECT, "--size", "abc"], r"argument --size: 'abc' is not an integer"),
    "collect size 100000": Probe([*COLLECT, "--size", "100000"], r"argument --size: 100000: it must be from 32"),
    "collect fps 0": Probe([*COLLECT, "--fps", "0"], r"argument --fps: 0: it must be from 1 to 240"),
    "collect max-height 0": Probe([*COLLECT, "--max-height", "0"], r"argument --max-height: 0"),
    "collect unknown cast member": Probe(["collect", "synthetic:nobody", "--person", "x", *ws], r"nobody"),
    "collect missing file": Probe(["collect", "in/nothing.mp4", "--person", "x", *ws],
                                  r"in/nothing.mp4: not a file, a URL or synthetic:<name>"),
    "collect broken video": Probe(["collect", "in/broken.mp4", "--person", "x", *ws], r"in/broken.mp4: .*video"),
    "collect a text file": Probe(["collect", "in/notes.txt", "--person", "x", *ws], r"in/notes.txt: .*video"),
    "collect a folder": Probe(["collect", "in/empty", "--person", "x", *ws], r"in/empty"),
    "collect closed port": Probe(["collect", f"http://127.0.0.1:{_closed_port()}/clip.mp4", "--person", "x", *ws],
                                 r"http://127.0.0.1:\d+/clip.mp4: .*refused"),
    "collect name with a dot": Probe([*COLLECT[:3], "me.i", *COLLECT[4:]], r"'me.i'"),
    "collect name with a space": Probe([*COLLECT[:3], "m ei", *COLLECT[4:]], r"'m ei'"),
    "collect name climbing out": Probe([*COLLECT[:3], "../up", *COLLECT[4:]], r"'../up'"),
    "collect bad section": Probe(["collect", CLIP, "--person", "x", "--section", "abc", *ws], r"section 'abc'"),
    "collect section backwards": Probe(["collect", CLIP, "--person", "x", "--section", "0:05-0:01", *ws],
                                       r"section '0:05-0:01'"),
    "collect workspace is a file": Probe([*COLLECT[:-1], "in/notes.txt"], r"--workspace in/notes.txt: is a file"),
    "collect read-only workspace": Probe(COLLECT, r"ws/clips.*: (Read-only file system|Permission denied)",
                                         read_only="ws"),
    "collect read-only person": Probe(["collect", "synthetic:ines", "--person", "ines", "--frames", "9", *ws],
                                      r"ws/clips/ines.*: (Read-only file system|Permission denied)",
                                      read_only="ws/clips/ines"),
    "collect disk full (truth)": Probe(COLLECT, r"File too large", file_limit=16_000),
    "collect disk full (clip)": Probe(COLLECT, r"File too large", file_limit=2_000),
    "collect another clip's name": Probe(["collect", "in/copy/ines_s0_8f_96px.mp4", "--person", "ines", *ws],
                                         r"a different clip has this name", setup=["copy clip"]),
    "collect while another collects": Probe(["collect", "synthetic:ines", "--person", "ines", "--frames", "9", *ws],
                                            r"clips of ines.* pid \d+", setup=["lock clips"]),
    # extract
    "extract every 0": Probe([*EXTRACT, "--every", "0"], r"argument --every: 0: it must be at least 1"),
    "extract size 0": Probe([*EXTRACT, "--size", "0"], r"argument --size: 0: it must be from 32 to 1024"),
    "extract size 5000": Probe([*EXTRACT, "--size", "5000"], r"argument --size: 5000"),
    "extract min-size -1": Probe([*EXTRACT, "--min-size=-1"], r"argument --min-size: -1: it must be at least 0"),
    "extract yaw-range 10 500": Probe([*EXTRACT, "--yaw-range", "10", "500"], r"argument --yaw-range: 500"),
    "extract unknown detector": Probe([*EXTRACT, "--detector", "magic"], r"argument --detector: invalid choice"),
    "extract missing source": Probe(["extract", "in/nothing.mp4", *EXTRACT[2:]], r"in/nothing.mp4"),
    "extract broken video": Probe(["extract", "in/broken.mp4", *EXTRACT[2:]], r"in/broken.mp4"),
    "extract empty folder": Probe(["extract", "in/empty", *EXTRACT[2:]], r"in/empty"),
    "extract folder of text": Probe(["extract", "in/texts", *EXTRACT[2:]], r"in/texts"),
    "extract name with a dot": Probe([*EXTRACT[:3], "new.face", *EXTRACT[4:]], r"'new.face'"),
    "extract over a face set": Probe([*EXTRACT[:3], "ines", *EXTRACT[4:]], r"ws/faces/ines: a face set exists"),
    "extract read-only workspace": Probe(EXTRACT, r"ws/faces.*: (Read-only file system|Permission denied)",
                                         read_only="ws"),
    "extract disk full": Probe(EXTRACT, r"File too large", file_limit=4_000),
    "extract workspace is a file": Probe([*EXTRACT[:-1], "in/notes.txt"], r"--workspace in/notes.txt: is a file"),
    "extract while another extracts": Probe(EXTRACT, r"face set of newface.* pid \d+", setup=["lock faces"]),
    # train
    "train steps 0": Probe([*TRAIN[:5], "0", *ws], r"argument --steps: 0: it must be at least 1"),
    "train steps -5": Probe([*TRAIN[:5], "-5", *ws], r"argument --steps: -5"),
    "train lr -1": Probe([*TRAIN, "--lr", "-1"], r"argument --lr: -1: it must be above 0 and at most 1"),
    "train lr 0": Probe([*TRAIN, "--lr", "0"], r"argument --lr: 0: it must be above 0"),
    "train lr nan": Probe([*TRAIN, "--lr", "nan"], r"argument --lr: nan"),
    "train batch-size 0": Probe([*TRAIN, "--batch-size", "0"], r"argument --batch-size: 0: it must be from 1"),
    "train ssim -1": Probe([*TRAIN, "--ssim=-1"], r"argument --ssim: -1: it must be from 0 to 10"),
    "train clip-grad -1": Probe([*TRAIN, "--clip-grad=-1"], r"argument --clip-grad: -1"),
    "train checkpoint-every 0": Probe([*TRAIN, "--checkpoint-every", "0"], r"argument --checkpoint-every: 0"),
    "train preview-every 0": Probe([*TRAIN, "--preview-every", "0"], r"argument --preview-every: 0"),
    "train unknown config": Probe([*TRAIN, "--config", "huge"], r"argument --config: invalid choice"),
    "train missing face set": Probe(["train", "--persons", "ines", "zoe", "--steps", "3", *ws],
                                    r"ws/faces/zoe: no face set here"),
    "train name with a dot": Probe(["train", "--persons", "ines", "to.mas", "--steps", "3", *ws], r"'to.mas'"),
    "train one person twice": Probe(["train", "--persons", "ines", "ines", "--steps", "3", *ws],
                                    r"persons \['ines', 'ines'\]: give distinct names"),
    "train on a tpu": Probe([*TRAIN, "--device", "tpu"], r"device 'tpu'"),
    "train on a missing gpu": Probe([*TRAIN, "--device", "cuda:7"], r"cuda"),
    "train over a model": Probe(TRAIN, r"ws/models/ines-tomas-lite: .*--resume"),
    "train resume of nothing": Probe([*TRAIN, "--resume", "--model", "nothing"], r"nothing"),
    "train resume as another config": Probe([*TRAIN, "--resume", "--config", "original"],
                                            r"ines-tomas-original: no checkpoint here"),
    "train resume read-only model": Probe([*TRAIN, "--resume"],
                                          r"ws/models/ines-tomas-lite.*: (Read-only file system|Permission denied)",
                                          read_only=MODEL),
    "train resume disk full": Probe([*TRAIN, "--resume"], r"File too large", file_limit=1_000_000),
    "train resume damaged checkpoint": Probe([*TRAIN, "--resume", "--model", "damaged"], r"state.json: damaged",
                                             setup=["damaged model"]),
    "train while another trains": Probe([*TRAIN, "--resume"], r"ines-tomas-lite.* pid \d+", setup=["lock model"]),
    "train workspace is a file": Probe([*TRAIN[:-1], "in/notes.txt"], r"--workspace in/notes.txt: is a file"),
    # convert
    "convert missing input": Probe(["convert", "in/nothing.mp4", *CONVERT[2:], "--out", "o.mp4"],
                                   r"in/nothing.mp4: no such file"),
    "convert broken input": Probe(["convert", "in/broken.mp4", *CONVERT[2:], "--out", "o.mp4"], r"in/broken.mp4"),
    "convert out is the input": Probe([*CONVERT, "--out", CLIP, "--overwrite"], r"is the input"),
    "convert gif is the input": Probe([*CONVERT, "--out", "o.mp4", "--gif", CLIP, "--overwrite"], r"is the input"),
    "convert gif is the output": Probe([*CONVERT, "--out", "o.mp4", "--gif", "o.mp4"], r"is the output"),
    "convert over an output": Probe([*CONVERT, "--out", "ws/outputs/a.mp4"], r"ws/outputs/a.mp4: .*already exists"),
    "convert out is a folder": Probe([*CONVERT, "--out", "ws/outputs"], r"ws/outputs: .*folder"),
    "convert gif is a folder": Probe([*CONVERT, "--out", "o.mp4", "--gif", "ws/outputs"], r"ws/outputs: .*folder"),
    "convert resize 0": Probe([*CONVERT, "--out", "o.mp4", "--resize", "0"], r"argument --resize: 0"),
    "convert resize -2": Probe([*CONVERT, "--out", "o.mp4", "--resize=-2"], r"argument --resize: -2"),
    "convert feather 5": Probe([*CONVERT, "--out", "o.mp4", "--feather", "5"], r"argument --feather: 5"),
    "convert erode -1": Probe([*CONVERT, "--out", "o.mp4", "--erode=-1"], r"argument --erode: -1"),
    "convert detect-every 0": Probe([*CONVERT, "--out", "o.mp4", "--detect-every", "0"], r"argument --detect-every"),
    "convert gif-length 0": Probe([*CONVERT, "--out", "o.mp4", "--gif-length", "0"], r"argument --gif-length: 0"),
    "convert end 0": Probe([*CONVERT, "--out", "o.mp4", "--end", "0"], r"argument --end: 0"),
    "convert start after the end": Probe([*CONVERT, "--out", "o.mp4", "--start", "100"],
                                         r"start 100 s is past its end"),
    "convert end before start": Probe([*CONVERT, "--out", "o.mp4", "--start", "0.2", "--end", "0.1"], r"end 0.1"),
    "convert unknown person": Probe([*CONVERT[:5], "zoe", *CONVERT[6:], "--out", "o.mp4"], r"zoe"),
    "convert missing model": Probe([*CONVERT[:3], "ws/models/none", *CONVERT[4:], "--out", "o.mp4"],
                                   r"ws/models/none"),
    "convert faces as a model": Probe([*CONVERT[:3], "ws/faces/ines", *CONVERT[4:], "--out", "o.mp4"],
                                      r"ws/faces/ines"),
    "convert read-only output folder": Probe([*CONVERT, "--out", "ws/outputs/b.mp4"],
                                             r"ws/outputs: cannot write here", read_only="ws/outputs"),
    "convert disk full": Probe([*CONVERT, "--out", "ws/outputs/a.mp4", "--overwrite"], r"a.mp4: could not be written",
                               file_limit=3_000),
    # probe and tour
    "info missing file": Probe(["info", "in/nothing.mp4"], r"in/nothing.mp4"),
    "info broken file": Probe(["info", "in/broken.mp4"], r"in/broken.mp4"),
    "info a folder": Probe(["info", "in/empty"], r"in/empty"),
    "verify a text file": Probe(["verify", "in/notes.txt"], r"in/notes.txt: not a readable video"),
    "verify a missing file": Probe(["verify", "in/nothing.mp4"], r"in/nothing.mp4"),
    # detect (a swap detector of chapter 09) and verify with one
    "scan a text file": Probe(["scan", "in/notes.txt", "--swap-detector", "in/swap_detector.safetensors"],
                                r"in/notes.txt: not a readable video"),
    "detect missing detector": Probe([*SCAN[:3], "in/none.safetensors", *SCAN[4:]],
                                     r"in/none.safetensors: no such detector file"),
    "scan before chapter 09 saved one": Probe(
        ["scan", CLIP, *ws], r"ws/detectors/swap_detector.safetensors: no such detector file; train one"),
    "scan damaged detector": Probe([*SCAN[:3], "in/cut.safetensors", *SCAN[4:]],
                                     r"in/cut.safetensors: not a readable detector file"),
    "scan detector of another version": Probe([*SCAN[:3], "in/old.safetensors", *SCAN[4:]],
                                                r"in/old.safetensors: a detector of another version"),
    "scan a checkpoint as detector": Probe(
        [*SCAN[:3], f"{MODEL}/checkpoints/step-0000002/model.safetensors", *SCAN[4:]],
        r"model.safetensors: not a faceswap-lab swap detector"),
    "scan a video without a face": Probe(["scan", "in/grey.mp4", "--swap-detector", "in/swap_detector.safetensors",
                                          "--detector", "cascade", "--heatmap", "ws/outputs/h.mp4"],
                                         r"in/grey.mp4: no face found in any of its 8 frames; no verdict"),
    "scan heatmap over an output": Probe([*SCAN, "--heatmap", "ws/outputs/a.mp4"],
                                           r"ws/outputs/a.mp4: already exists"),
    "scan heatmap onto the input": Probe([*SCAN, "--heatmap", CLIP, "--overwrite"], r"is the input"),
    "scan max-frames 0": Probe([*SCAN, "--max-frames", "0"], r"argument --max-frames: 0: it must be at least 1"),
    "scan read-only heatmap folder": Probe([*SCAN, "--heatmap", "ws/outputs/h.mp4"],
                                             r"ws/outputs.*: (Read-only file system|Permission denied)",
                                             read_only="ws/outputs"),
    "scan disk full (heatmap)": Probe([*SCAN, "--heatmap", "ws/outputs/h.mp4"], r"h.mp4.*(File too large|could "
                                        r"not be written)", file_limit=3_000),
    "verify with a damaged detector": Probe(["verify", "ws/outputs/a.mp4", "--swap-detector", "in/cut.safetensors"],
                                            r"in/cut.safetensors: not a readable detector file"),
    # round two (issue 24): what a hostile run still found, and more of our own
    "extract a faceless clip over a set": Probe(
        ["extract", "in/grey.mp4", "--person", "ines", "--detector", "cascade", "--overwrite", *ws],
        r"in/grey.mp4: no face kept: 8 frames read, 0 faces found.*ws/faces/ines is unchanged"),
    "extract tiny faces only over a set": Probe(["extract", CLIP, "--person", "ines", "--detector", "truth",
                                                 "--min-size", "5000", "--overwrite", *ws],
                                                r"no face kept: .*too small 8.*is unchanged"),
    "extract a set into itself": Probe(["extract", "ws/faces/ines", "--person", "ines", "--overwrite", *ws],
                                       r"ws/faces/ines: is the face set this extraction writes"),
    "extract a crop of the set into it": Probe(["extract", "ws/faces/ines/000000_0.png", "--person", "ines",
                                                "--overwrite", *ws], r"000000_0.png: is the face set"),
    "extract yaw-range backwards": Probe([*EXTRACT, "--yaw-range", "30", "-30"], r"yaw range 30 -30: give MIN <= MAX"),
    "extract min-size inf": Probe([*EXTRACT, "--min-size", "inf"], r"argument --min-size: inf: it must be a finite"),
    "extract a PNG claiming 65535 px": Probe(["extract", "in/huge", "--person", "newface", "--detector", "cascade",
                                              *ws],
                                             r"in/huge: no face kept: 0 frames read.*1 unreadable",
                                             setup=["huge png"]),
    "extract reference claiming 65535 px": Probe([*EXTRACT, "--reference", "in/huge/huge.png"], r"huge.png",
                                                 setup=["huge png"]),
    "extract name ending in a newline": Probe([*EXTRACT[:3], "nl\n", *EXTRACT[4:]], r"'nl\\n'"),
    "collect section nan-nan": Probe(["collect", CLIP, "--person", "x", "--section", "nan-nan", *ws],
                                     r"section 'nan-nan'"),
    "collect section inf-": Probe(["collect", CLIP, "--person", "x", "--section", "inf-", *ws], r"section 'inf-'"),
    "collect section 1e400-": Probe(["collect", CLIP, "--person", "x", "--section", "1e400-", *ws],
                                    r"section '1e400-'"),
    "collect section past the end": Probe(["collect", CLIP, "--person", "x", "--section", "50-60", *ws],
                                          r"section '50-60': starts past the end"),
    "collect name ending in a newline": Probe([*COLLECT[:3], "mei\n", *COLLECT[4:]], r"'mei\\n'"),
    "collect an image": Probe(["collect", "in/huge/huge.png", "--person", "x", *ws], r"huge.png",
                              setup=["huge png"]),
    "collect fps inf": Probe([*COLLECT, "--fps", "inf"], r"argument --fps: inf: it must be a finite"),
    "info an image": Probe(["info", "ws/faces/ines/000000_0.png"], r"000000_0.png: an image, not a video"),
    "info a PNG claiming 65535 px": Probe(["info", "in/huge/huge.png"], r"huge.png", setup=["huge png"]),
    "train resume from the past": Probe([*TRAIN[:4], "--steps", "1", "--resume", *ws],
                                        r"steps 1: .*ines-tomas-lite is already at step 2"),
    "train resume step abc": Probe([*TRAIN, "--resume", "--model", "step-abc"], r"state.json: damaged \(step 'abc'\)",
                                   setup=["model step-abc"]),
    "train resume step -7": Probe([*TRAIN, "--resume", "--model", "step-neg"], r"state.json: damaged \(step -7\)",
                                  setup=["model step-neg"]),
    "train resume empty history": Probe([*TRAIN, "--resume", "--model", "no-history"], r"history.json: damaged",
                                        setup=["model no-history"]),
    "train resume huge dense": Probe([*TRAIN, "--resume", "--model", "huge"], r"state.json: damaged \(dense",
                                     setup=["model huge"]),
    "train resume huge filters": Probe([*TRAIN, "--resume", "--model", "wide"], r"state.json: damaged \(an "
                                       r"encoder and decoder of [\d,]+ million parameters", setup=["model wide"]),
    "train resume other settings": Probe([*TRAIN, "--resume", "--model", "settings"],
                                         r"state.json: damaged training settings", setup=["model settings"]),
    "train lr inf": Probe([*TRAIN, "--lr", "inf"], r"argument --lr: inf: it must be a finite"),
    "train missing base": Probe([*TRAIN[:4], "--model", "nb", "--base", "in/none.safetensors", *TRAIN[4:]],
                                r"in/none.safetensors: no base here"),
    "train damaged base": Probe([*TRAIN[:4], "--model", "nb", "--base", "in/cut.safetensors", *TRAIN[4:]],
                                r"in/cut.safetensors: "),
    "train base and scratch": Probe([*TRAIN, "--base", "x.safetensors", "--from-scratch"], r"not allowed with"),
    "convert huge dense model": Probe([*CONVERT[:3], "ws/models/huge", *CONVERT[4:], "--out", "o.mp4"],
                                      r"state.json: damaged \(dense", setup=["model huge"]),
    "convert out is the truth sidecar": Probe(
        [*CONVERT, "--out", CLIP.replace(".mp4", ".truth.json"), "--overwrite"],
        r"ines_s0_8f_96px.truth.json: convert writes MP4; give a name ending in .mp4"),
    "convert out without suffix": Probe([*CONVERT, "--out", "ws/outputs/b"], r"ws/outputs/b: convert writes MP4"),
    "convert gif not a gif": Probe([*CONVERT, "--out", "o.mp4", "--gif", "o.png"], r"o.png: convert writes GIF"),
    "convert gif past the end": Probe([*CONVERT, "--out", "o.mp4", "--gif", "o.gif", "--gif-start", "100"],
                                      r"gif start 100 s: past the end of the output"),
    "convert gif past its end": Probe([*CONVERT, "--out", "o.mp4", "--end", "0.1", "--gif", "o.gif",
                                       "--gif-start", "0.2"], r"gif start 0.2 s: past the end of the output"),
    "convert an image": Probe(["convert", "ws/faces/ines/000000_0.png", *CONVERT[2:], "--out", "o.mp4"],
                              r"000000_0.png: an image, not a video"),
    "convert while another writes it": Probe([*CONVERT, "--out", "ws/outputs/c.mp4"],
                                             r"the output c.mp4 is being written by pid \d+", setup=["lock output"]),
    "convert end inf": Probe([*CONVERT, "--out", "o.mp4", "--end", "inf"], r"argument --end: inf: it must be a fini"),
    "convert to a person the model lacks": Probe([*CONVERT[:5], "mei", *CONVERT[6:], "--out", "o.mp4"], r"mei"),
    "faces prune all": Probe(["faces", "ines", "--prune", "8", *ws], r"--prune 8: the set holds 8 faces"),
    "faces prune -1": Probe(["faces", "ines", "--prune=-1", *ws], r"argument --prune: -1"),
    "faces missing set": Probe(["faces", "zoe", *ws], r"ws/faces/zoe: no face set here"),
    "faces unknown sort": Probe(["faces", "ines", "--sort", "beauty", *ws], r"argument --sort: invalid choice"),
    "faces name with a dot": Probe(["faces", "in.es", *ws], r"'in.es'"),
    "pretrain one person": Probe(["pretrain", "--people", "1", "--out", "in/b.safetensors"],
                                 r"argument --people: 1: it must be from 2"),
    "pretrain frames 0": Probe(["pretrain", "--frames", "0", "--out", "in/b.safetensors"], r"argument --frames: 0"),
    "pretrain over a folder": Probe(["pretrain", "--out", "in/empty", "--steps", "1", "--people", "2"], r"in/empty"),
    "pretrain not safetensors": Probe(["pretrain", "--out", "in/b.txt", "--steps", "1", "--people", "2"],
                                      r"in/b.txt"),
    "pretrain read-only out": Probe(["pretrain", "--out", "ws/outputs/b.safetensors", "--steps", "1", "--people",
                                     "2"], r"ws/outputs.*(cannot write|Read-only|Permission denied)",
                                    read_only="ws/outputs"),
    "scan an image": Probe(["scan", "ws/faces/ines/000000_0.png", "--swap-detector", "in/swap_detector.safetensors"],
                           r"000000_0.png"),
    "scan heatmap not a video name": Probe([*SCAN, "--heatmap", "ws/outputs/h.json"], r"h.json"),
    "verify a PNG claiming 65535 px": Probe(["verify", "in/huge/huge.png"], r"huge.png", setup=["huge png"]),
    "tour unknown chapter": Probe(["tour", "--only", "99", *ws], r"--only 99: matches no chapter"),
    "tour empty notebooks folder": Probe(["tour", "--notebooks", "in/empty", *ws], r"in/empty: no chapter notebooks"),
    "tour unknown profile": Probe(["tour", "--profile", "huge", *ws], r"argument --profile: invalid choice"),
}


def _prepare(name: str, base: Path):
    """Set up what a probe needs; returns a cleanup (None if nothing to undo)."""
    if name == "copy clip":  # another clip under the name of ines's clip
        (base / "in/copy").mkdir(exist_ok=True)
        shutil.copy(base / "ws/clips/tomas/tomas_s0_8f_96px.mp4", base / "in/copy/ines_s0_8f_96px.mp4")
        return None
    if name == "huge png":  # 74 bytes whose header claims 65535 x 65535 pixels
        (base / "in/huge").mkdir(exist_ok=True)
        (base / "in/huge/huge.png").write_bytes(_png_header(65535, 65535))
        return None
    if name.startswith("model "):
        return _model_variant(base, name[6:])
    if name == "damaged model":
        if not (base / "ws/models/damaged").exists():
            shutil.copytree(base / MODEL, base / "ws/models/damaged")
            for state in (base / "ws/models/damaged/checkpoints").glob("*/state.json"):
                state.write_text("{")
        return None
    folder, what, lock_name = {"lock output": (base / "ws/outputs", "the output c.mp4", ".c-mp4.lock"),
                               "lock clips": (base / "ws/clips/ines", "the clips of ines", ".lock"),
                               "lock faces": (base / "ws/faces", "the face set of newface", ".newface.lock"),
                               "lock model": (base / MODEL, "the model ines-tomas-lite", ".lock")}[name]
    held = files.lock(folder, what, name=lock_name)
    held.__enter__()
    return lambda: held.__exit__(None, None, None)


def _png_header(width: int, height: int) -> bytes:
    """A PNG that is only a header (a claimed size) and an empty image: what a hostile upload looks like."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    head = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + head + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def _model_variant(base: Path, name: str) -> None:
    """A copy of the trained model whose checkpoint state was edited as a hostile file would be."""
    import json

    folder = base / "ws/models" / name
    if folder.exists():
        return None
    shutil.copytree(base / MODEL, folder)
    for state_file in (folder / "checkpoints").glob("*/state.json"):
        state = json.loads(state_file.read_text())
        if name == "step-abc":
            state["step"] = "abc"
        elif name == "step-neg":
            state["step"] = -7
        elif name == "huge":
            state["model_config"]["dense"] = 1 << 40
        elif name == "wide":
            state["model_config"]["encoder_filters"] = [30000] * 4
        elif name == "settings":
            state["train_config"]["no_such_setting"] = 1
        state_file.write_text(json.dumps(state))
    if name == "no-history":
        (folder / "history.json").write_text("")
    return None


AT_ONCE = 2  # probes run side by side (a probe's time is mostly its interpreter starting: it overlaps)
DIGESTS: dict = {}  # content digests by inode, size and time: the workspace copies share their files' inodes


def _run_probe(name: str, root: Path) -> tuple | str:
    """Run one probe on its own copy of the workspace (hard links: nothing is copied, and a writer that
    replaces a file replaces the copy's link): (result, files before, files after), or why it is skipped."""
    probe = PROBES[name]
    if probe.read_only and (why := _read_only_works()):
        return why
    copy = Path(tempfile.mkdtemp(prefix="probe-"))
    try:
        shutil.copytree(root, copy, symlinks=True, copy_function=_link, dirs_exist_ok=True)
        undo = [_prepare(s, copy) for s in probe.setup]
        before = snapshot(copy, DIGESTS)
        try:
            done = cli(probe.args, copy, read_only=probe.read_only, file_limit=probe.file_limit)
        finally:
            for u in undo:
                if u:
                    u()
        return done, before, snapshot(copy, DIGESTS)
    finally:
        shutil.rmtree(copy, ignore_errors=True)


def _link(src: str, dst: str) -> None:
    """A hard link, but for lock files: a lock is held on the inode, and each copy has its own writers."""
    shutil.copy2(src, dst) if LOCK.search(src) else os.link(src, dst)


@pytest.fixture(scope="module")
def outcomes(root):
    """Every probe's outcome, `AT_ONCE` probes at a time, each on its own copy of the workspace."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(AT_ONCE) as pool:
        return dict(zip(PROBES, pool.map(lambda name: _run_probe(name, root), PROBES)))


@pytest.mark.parametrize("name", list(PROBES))
def test_bad_input_is_refused_in_one_line_and_loses_nothing(outcomes, name):
    probe, outcome = PROBES[name], outcomes[name]
    if isinstance(outcome, str):
        pytest.skip(outcome)
    done, before, after = outcome
    lines = [line for line in re.split(r"[\r\n]", done.stderr) if line.strip() and not BAR.search(line)]
    assert done.returncode == probe.code, f"exit {done.returncode}: {done.stderr[-3000:]}"
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert lines[0].startswith("faceswap-core"), lines[0]
    assert re.search(probe.message, lines[0]), lines[0]
    changed = [p for p in before if after.get(p) != before[p]]
    new = [p for p in after if p not in before]
    assert not changed and not new, f"changed {changed}, new {new}"


def test_there_are_at_least_sixty_probes():
    assert len(PROBES) >= 60
