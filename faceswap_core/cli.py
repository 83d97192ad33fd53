"""`faceswap-core <stage> ...`: the notebooks' steps for batch use. Errors print as one line."""

from __future__ import annotations

import argparse
import os
import sys

from .errors import FaceswapError
from .training.recipe import KEPT, LEARNING_RATES
from .workspace import detector_file, keys_dir

TRAIN_FLAGS = {"batch_size": "batch_size", "lr": "lr", "seed": "seed", "masked": "masked", "ssim": "ssim_weight",
               "clip_grad": "clip_grad", "precision": "precision", "preview_every": "preview_every",
               "checkpoint_every": "checkpoint_every"}  # argparse name -> TrainConfig field
TRAIN_EXTRAS = {"preview_every": 100, "checkpoint_every": 500}  # the CLI's own, on top of `recipe.recipe`


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line (no usage block), naming the value and the help."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}; see {self.prog} --help\n")


def _number(kind: type, low: float | None = None, high: float | None = None, above: float | None = None):
    """An argparse type: `kind` within [low, high] (or strictly above `above`), refused at parse time."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if kind is int else 'a number'}") \
                from None
        if value != value or (low is not None and value < low) or (high is not None and value > high) \
                or (above is not None and value <= above):
            want = " and ".join(w for w in (
                f"at least {low:g}" if low is not None and high is None else None,
                f"from {low:g} to {high:g}" if low is not None and high is not None else None,
                f"above {above:g}" if above is not None else None,
                f"at most {high:g}" if low is None and high is not None else None) if w)
            raise argparse.ArgumentTypeError(f"{text}: it must be {want}")
        return value

    parse.__name__ = kind.__name__
    return parse


COUNT = _number(int, 1)  # frames, steps, every Nth, batch sizes, intervals
SIZE = _number(int, 32, 4096)  # frame and crop sizes in pixels
DETECTORS = ["auto", "fan", "dlib", "cascade", "truth"]  # face detectors (detect.get_detector)
FRACTION = _number(float, 0.0, 0.5)  # of the face size
NONNEG = _number(float, 0.0)
SECONDS = NONNEG  # seconds into a clip


def _cast(args: argparse.Namespace) -> None:
    from . import synth

    for name, p in synth.CAST.items():
        extras = [x for x, on in (("beard", p.beard > 0), ("glasses", p.glasses)) if on]
        print(f"{name:<8} hair {p.hair_style:<6} {' '.join(extras)}".rstrip())
    print("(any seed<N>, e.g. seed7, is one more made-up person)")


def _collect(args: argparse.Namespace) -> None:
    from . import collect

    for src in args.sources:
        rec = collect.collect(src, args.person, args.workspace, frames=args.frames, size=args.size, fps=args.fps,
                              seed=args.seed, section=args.section, max_height=args.max_height,
                              overwrite=args.overwrite, progress=True)
        print(f"{rec.path(args.workspace, args.person)}: {rec.frames} frames, {rec.width}x{rec.height}, "
              f"{rec.fps:g} fps, {rec.duration:.1f} s, audio {'yes' if rec.has_audio else 'no'}")


def _info(args: argparse.Namespace) -> None:
    from . import media

    for f in args.files:
        i = media.video_info(f)
        print(f"{f}: {i.width}x{i.height}, {i.fps:g} fps, {i.frames} frames, {i.duration:.2f} s, "
              f"audio {f'{i.audio_duration:.2f} s at {i.audio_rate} Hz' if i.has_audio else 'none'}")


def _extract(args: argparse.Namespace) -> None:
    from .faces import extraction

    yaw = tuple(args.yaw_range) if args.yaw_range else None
    summary = extraction.extract(args.sources, args.person, args.workspace, detector=args.detector, size=args.size,
                              every=args.every, min_size=args.min_size, min_blur=args.min_blur, yaw_range=yaw,
                              reference=args.reference, max_distance=args.max_distance, overwrite=args.overwrite)
    print(summary)
    if summary.kept == 0:
        print(f"warning: no faces kept from {', '.join(args.sources)}; the face set is empty", file=sys.stderr)


def _faces(args: argparse.Namespace) -> None:
    from .faces import curate, faceset
    from .files import write_atomic
    from .lab import viz
    from .workspace import faces_dir

    fs = faceset.FaceSet(faces_dir(args.workspace, args.person))
    if args.prune >= len(fs):
        raise FaceswapError(f"--prune {args.prune}: the set holds {len(fs)} faces; set aside fewer")
    order = curate.sort_faces(fs, args.sort)
    sheet = viz.contact_sheet([fs.image(i) for i, _ in order], cols=10)
    out = write_atomic(fs.path / f"sorted-by-{args.sort}.png", viz.png_bytes(sheet))
    print(f"{out}: {len(order)} faces by {curate.SORT_KEYS[args.sort]}; first {order[0][1]:.3f}, "
          f"last {order[-1][1]:.3f}")
    if args.prune:
        moved = curate.reject(fs, [i for i, _ in order[-args.prune:]])
        print(f"set aside {len(moved)} faces in {fs.path / 'rejected'} (move a PNG back to restore it)")


def _train(args: argparse.Namespace) -> None:
    from .device import pick_device
    from .training import recipe, train
    from .workspace import model_dir

    pick_device(args.device)  # a device this machine lacks is refused before anything is loaded
    given = {k: getattr(args, flag) for flag, k in TRAIN_FLAGS.items() if getattr(args, flag) is not None}
    if args.decay is not None:
        given["decay_steps"] = args.steps if args.decay else 0
    # a new model gets the kept recipe and the flags given; a resumed one keeps its saved settings but the flags given
    config = recipe.recipe(args.config, args.steps, **{**TRAIN_EXTRAS, **given})  # bad values refused here
    distributed = train.init_distributed()
    out = model_dir(args.workspace, args.persons, args.config, args.model)
    faces = train.load_faces(args.workspace, args.persons)
    trainer = train.open_trainer(out, faces, args.persons, args.config, config, resume=args.resume,
                                 device=args.device, **(given if args.resume else {}))
    if args.resume:
        changed = [f"{k} {old} -> {new}" for k, (old, new) in trainer.changed.items()]
        print(f"resuming {out} at step {trainer.step}" + (f"; changed: {', '.join(changed)}" if changed else
                                                          " with its saved settings"))
    try:
        trainer.train(args.steps)
    finally:
        if distributed:
            import torch.distributed as dist

            dist.destroy_process_group()
    last = trainer.history[-1] if trainer.history else {}
    print(f"{out}: step {trainer.step}, loss " + ", ".join(f"{p} {last.get(p, float('nan')):.4f}"
                                                          for p in args.persons))


def _convert(args: argparse.Namespace) -> None:
    from .faces import identity
    from .provenance import credentials, watermark
    from .swapping import convert, swap

    convert.check_job(args.input, args.out, gif=args.gif, overwrite=args.overwrite, start=args.start, end=args.end,
                      resize=args.resize)  # before the model and the detector load
    opts = swap.SwapOptions(color=args.color, blend=args.blend, erode=args.erode, feather=args.feather,
                            min_size=args.min_size, batch_size=args.batch_size, detect_every=args.detect_every)
    swapper = swap.Swapper(args.model, args.to, args.detector, options=opts, clip=args.input, device=args.device)
    persons = swapper.model.persons
    source = next((p for p in persons if p != args.to), None)
    means = identity.person_means(args.workspace, source, args.to) if source and not args.no_identity else None
    keys = keys_dir(args.workspace)
    identity = None if args.no_provenance else credentials.local_identity(keys)  # a damaged key fails before the work
    summary = convert.convert_video(args.input, args.out, swapper, start=args.start, end=args.end, identity_of=means,
                                    resize=args.resize, side_by_side=args.side_by_side,
                                    provenance=not args.no_provenance, overwrite=args.overwrite,
                                    gif=args.gif, gif_seconds=(args.gif_start, args.gif_start + args.gif_length),
                                    mark=None if args.no_provenance else watermark.mark_frame)
    print(summary)
    if identity is not None:
        credentials.sign(args.out, parent=args.input, identity=identity)
        print(f"content credentials: {args.out} signed with the local TEST identity in {keys}/ (no one else trusts "
              "it; a publisher would sign with a certificate from a C2PA-recognised CA)")


def _verify(args: argparse.Namespace) -> int:
    from .detection import swap_detector
    from .provenance import verifier

    model = swap_detector.load(args.swap_detector) if args.swap_detector else None  # refused before any video
    root = keys_dir(args.workspace) / "root.pem"  # this workspace's test identity, if it has one
    trust = root.read_bytes() if root.is_file() else None
    unmarked = 0
    for f in args.videos:
        result = verifier.verify(f, trust=trust)
        print(verifier.describe(result))
        if model is None or result["found"]:
            continue
        try:
            seen = swap_detector.scan(f, model, args.detector, max_frames=args.max_frames)
        except FaceswapError as e:  # no face: the detector cannot tell
            print(f"  swap detector: cannot tell ({e})")
            continue
        print(f"  swap detector: {seen['verdict']}")
        if seen["swapped"]:
            unmarked += 1
            print(f"  {f}: judged swapped but carries no faceswap-lab mark")
    return 1 if unmarked else 0


def _scan(args: argparse.Namespace) -> None:
    from .detection import swap_detector

    model = swap_detector.load(args.swap_detector or detector_file(args.workspace))
    result = swap_detector.scan(args.video, model, args.detector, heatmap=args.heatmap, max_frames=args.max_frames,
                          overwrite=args.overwrite, progress=True)
    print(swap_detector.describe(result))


def _tour(args: argparse.Namespace) -> None:
    from .lab import tour

    index = tour.run_tour(args.profile, args.workspace, args.notebooks or tour.NOTEBOOKS, only=args.only)
    print(f"report: {index}")


def main(argv: list[str] | None = None) -> int:
    ap = _Parser(prog="faceswap-core", description="DeepFakes-style face swapping, step by step.")
    sub = ap.add_subparsers(dest="command", required=True)

    def command(name: str, func, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.add_argument("--workspace", default="data", help="workspace folder (default: data/)")
        p.set_defaults(func=func)
        return p

    command("cast", _cast, "list the synthetic cast members")
    p = command("collect", _collect, "collect clips of a person from URLs, files or synthetic:<name>")
    p.add_argument("sources", nargs="+", metavar="SOURCE")
    p.add_argument("--person", required=True, help="folder name for this person")
    p.add_argument("--frames", type=COUNT, default=300, help="frames of a synthetic clip")
    p.add_argument("--size", type=SIZE, default=256, help="frame size of a synthetic clip (pixels)")
    p.add_argument("--fps", type=_number(float, 1, 240), default=25.0, help="frame rate of a synthetic clip")
    p.add_argument("--seed", type=_number(int, 0), default=0, help="motion seed of a synthetic clip")
    p.add_argument("--section", help="only this part of a URL or file: START-END, e.g. 0:10-0:40")
    p.add_argument("--max-height", type=_number(int, 64, 4320), default=720, help="highest resolution to download")
    p.add_argument("--overwrite", action="store_true", help="replace a different clip of the same name")
    p = command("info", _info, "print size, rate, frames and audio of video files")
    p.add_argument("files", nargs="+")
    p = command("extract", _extract, "detect, align and save the faces of a person from clips or image folders")
    p.add_argument("sources", nargs="+", metavar="CLIP_OR_FOLDER")
    p.add_argument("--person", required=True, help="name of the face set (workspace/faces/NAME)")
    p.add_argument("--detector", default="auto", choices=DETECTORS)
    p.add_argument("--size", type=_number(int, 32, 1024), default=256, help="aligned crop size in pixels")
    p.add_argument("--every", type=COUNT, default=1, help="use every Nth frame")
    p.add_argument("--min-size", type=NONNEG, default=20, help="drop faces smaller than this (pixels)")
    p.add_argument("--min-blur", type=NONNEG, help="drop crops whose sharpness score is below this")
    p.add_argument("--yaw-range", type=_number(float, -180, 180), nargs=2, metavar=("MIN", "MAX"),
                   help="keep only these yaws")
    p.add_argument("--reference", metavar="PHOTO_OR_FOLDER",
                   help="keep only faces of this person: a photo (or folder of photos) showing them alone")
    p.add_argument("--max-distance", type=_number(float, above=0, high=2), default=0.6,
                   help="identity distance to the reference within which a face counts as the person (default 0.6)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing face set (only on success)")
    p = command("faces", _faces, "sort a face set (contact sheet) and set its worst faces aside")
    p.add_argument("person", metavar="PERSON", help="the face set (workspace/faces/PERSON)")
    p.add_argument("--sort", default="identity", choices=["identity", "blur", "yaw", "size"])
    p.add_argument("--prune", type=_number(int, 0), default=0, help="move the N last (worst) into rejected/")
    p = command("train", _train, "train the shared encoder and one decoder per person")
    p.add_argument("--persons", nargs=2, required=True, metavar=("A", "B"), help="face sets in workspace/faces")
    p.add_argument("--config", default="lite", choices=list(LEARNING_RATES))
    p.add_argument("--steps", type=COUNT, required=True, help="train until this step")
    p.add_argument("--resume", action="store_true", help="continue from the latest checkpoint")
    p.add_argument("--model", help="model folder name under workspace/models (default A-B-config)")
    # settings: None when not given, so that --resume keeps the saved ones (defaults: recipe.recipe)
    p.add_argument("--batch-size", type=_number(int, 1, 4096), help=f"faces per person per step (default {KEPT['batch_size']})")
    p.add_argument("--lr", type=_number(float, above=0, high=1),
                   help="learning rate (default: " + ", ".join(f"{v:g} for {k}" for k, v in LEARNING_RATES.items()) + ")")
    p.add_argument("--seed", type=_number(int, 0), help="random seed (default 0)")
    p.add_argument("--masked", action=argparse.BooleanOptionalAction,
                   help="L1 only inside the face mask (default; --no-masked for the classic plain L1)")
    p.add_argument("--ssim", type=_number(float, 0, 10),
                   help=f"weight of an extra (1 - SSIM) term (default {KEPT['ssim_weight']}; 0 = classic L1 only)")
    p.add_argument("--clip-grad", type=NONNEG, help=f"gradient-norm clipping (default {KEPT['clip_grad']}; 0 = off)")
    p.add_argument("--decay", action=argparse.BooleanOptionalAction,
                   help="cosine learning-rate decay to 5%% over --steps (default; --no-decay: constant)")
    p.add_argument("--device", help="cpu, cuda, cuda:N or mps (default: the best one here)")
    p.add_argument("--precision", choices=["auto", "bf16", "fp32"], help="bf16 autocast or fp32 (default auto: "
                   "bf16 on CUDA)")
    p.add_argument("--preview-every", type=COUNT, help="steps between preview images (default 100)")
    p.add_argument("--checkpoint-every", type=COUNT, help="steps between checkpoints (default 500)")
    p = command("convert", _convert, "swap the faces of a video into one person of a trained model, audio kept")
    p.add_argument("input", metavar="INPUT", help="the video whose faces are replaced")
    p.add_argument("--model", required=True, help="a model folder (its latest checkpoint) or a checkpoint folder")
    p.add_argument("--to", required=True, metavar="NAME", help="the person whose decoder draws the new faces")
    p.add_argument("--out", required=True, help="output MP4 (refused if it exists, unless --overwrite)")
    p.add_argument("--detector", default="auto", choices=DETECTORS)
    p.add_argument("--color", default="lab", choices=["none", "lab", "hist"], help="colour matching")
    p.add_argument("--blend", default="feather", choices=["feather", "poisson"])
    p.add_argument("--erode", type=FRACTION, default=0.02, help="mask erosion, fraction of the face size")
    p.add_argument("--feather", type=FRACTION, default=0.08, help="mask edge softness, fraction of the face size")
    p.add_argument("--min-size", type=NONNEG, default=24, help="leave faces smaller than this (pixels) untouched")
    p.add_argument("--batch-size", type=_number(int, 1, 4096), default=32, help="faces per model call")
    p.add_argument("--device", help="cpu, cuda, cuda:N or mps (default: the best one here)")
    p.add_argument("--detect-every", type=COUNT, default=1,
                   help="detect faces on every Nth frame only, interpolating between (faster, less exact)")
    p.add_argument("--start", type=SECONDS, default=0.0, help="seconds into the input to start")
    p.add_argument("--end", type=_number(float, above=0), help="seconds into the input to stop")
    p.add_argument("--resize", type=_number(int, 16, 4320), help="output height in pixels (aspect kept)")
    p.add_argument("--side-by-side", action="store_true", help="write original | swapped")
    p.add_argument("--gif", help="also save a GIF of a short range to this path")
    p.add_argument("--gif-start", type=SECONDS, default=0.0, help="GIF start, seconds into the output")
    p.add_argument("--gif-length", type=_number(float, above=0, high=60), default=3.0, help="GIF length in seconds")
    p.add_argument("--no-provenance", action="store_true",
                   help="omit the visible 'synthetic' label, the metadata tag, the invisible watermark and the "
                        "signed content credentials (label swaps you publish!)")
    p.add_argument("--no-identity", action="store_true",
                   help="skip the identity score (sampled faces against both persons' face sets in --workspace)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output (only on success)")
    p = command("verify", _verify, "report the provenance marks of videos: metadata tag, visible label, watermark; "
                "with --swap-detector, exit 1 when a video without marks is judged swapped")
    p.add_argument("videos", nargs="+", metavar="VIDEO")
    p.add_argument("--swap-detector", metavar="FILE", help="a swap detector file (chapter 09) to judge unmarked videos")
    p.add_argument("--detector", default="auto", choices=DETECTORS, help="face detector for --swap-detector")
    p.add_argument("--max-frames", type=COUNT, default=64, help="frames the swap detector looks at (default 64)")
    p = command("scan", _scan, "judge whether the faces of a video were swapped: per-frame scores and a verdict")
    p.add_argument("video", metavar="VIDEO")
    p.add_argument("--swap-detector", metavar="FILE",
                   help="a swap detector file (default: WORKSPACE/detectors/swap_detector.safetensors, saved by "
                        "chapter 09)")
    p.add_argument("--detector", default="auto", choices=DETECTORS, help="face detector")
    p.add_argument("--heatmap", metavar="OUT", help="also write a video (MP4) of where it sees the seam of a paste")
    p.add_argument("--max-frames", type=COUNT, help="look at the first N frames only")
    p.add_argument("--overwrite", action="store_true", help="replace an existing heatmap video")
    p = command("tour", _tour, "run every notebook in order and write an HTML report")
    p.add_argument("--profile", default="quick", choices=["ci", "quick", "full"])
    p.add_argument("--notebooks", help="folder of chapter notebooks (default: the project's notebooks/)")
    p.add_argument("--only", nargs="+", metavar="NN", help="run only chapters starting with these prefixes")

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
                21: "give a file name, not a folder", 20: "a file stands where a folder belongs"}.get(e.errno, "")
        print(f"faceswap-core: error: {where}{e.strerror or e}" + (f"; {hint}" if hint else ""), file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # train saves its checkpoint before this arrives here
        print("faceswap-core: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
