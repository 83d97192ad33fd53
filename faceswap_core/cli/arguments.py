"""The `faceswap-core` command line: its subcommands and their arguments, each checked at parse time
(a bad value is one line naming it, no usage block)."""

from __future__ import annotations

import argparse
import inspect

from ..collect import collect
from ..faces import extraction, identity
from ..swapping.options import BLEND_MODES, COLOR_MODES, SwapOptions
from ..training.recipe import BASE_RECIPE, FIRST_SEED, KEPT, LEARNING_RATES
from . import commands


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
            what = "an integer" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if value in (float("inf"), float("-inf")):
            raise argparse.ArgumentTypeError(f"{text}: it must be a finite number")
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
SWAP = SwapOptions()  # convert's defaults
FRACTION = _number(float, 0.0, 0.5)  # of the face size
NONNEG = _number(float, 0.0)
SECONDS = NONNEG  # seconds into a clip


def default(func, name: str):
    """The default of parameter `name` of a library function: the CLI's flags take theirs from there."""
    return inspect.signature(func).parameters[name].default


def build_parser() -> argparse.ArgumentParser:
    """The `faceswap-core` parser: one subcommand a stage, each with `--workspace`."""
    ap = _Parser(prog="faceswap-core", description="DeepFakes-style face swapping, step by step.")
    sub = ap.add_subparsers(dest="command", required=True)

    def command(name: str, func, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.add_argument("--workspace", default="data", help="workspace folder (default: data/)")
        p.set_defaults(func=func)
        return p

    command("cast", commands.do_cast, "list the synthetic cast members")
    _collect(command("collect", commands.do_collect,
                     "collect clips of a person from URLs, files or synthetic:<name>"))
    command("info", commands.do_info, "print size, rate, frames and audio of video files").add_argument(
        "files", nargs="+")
    _extract(command("extract", commands.do_extract,
                     "detect, align and save the faces of a person from clips or image folders"))
    p = command("faces", commands.do_faces, "sort a face set (contact sheet) and set its worst faces aside")
    p.add_argument("person", metavar="PERSON", help="the face set (workspace/faces/PERSON)")
    p.add_argument("--sort", default="identity", choices=["identity", "blur", "yaw", "size"])
    p.add_argument("--prune", type=_number(int, 0), default=0, help="move the N last (worst) into rejected/")
    _pretrain(command("pretrain", commands.do_pretrain,
                      "train a base (shared encoder + a generic decoder) on many made-up seed<N> people"))
    _train(command("train", commands.do_train, "train the shared encoder and one decoder per person"))
    _convert(command("convert", commands.do_convert,
                     "swap the faces of a video into one person of a trained model, audio kept"))
    _verify(command("verify", commands.do_verify,
                    "report the provenance marks of videos: metadata tag, visible label, watermark; with "
                    "--swap-detector, exit 1 when a video without marks is judged swapped"))
    _scan(command("scan", commands.do_scan,
                  "judge whether the faces of a video were swapped: per-frame scores and a verdict"))
    p = command("tour", commands.do_tour, "run every notebook in order and write an HTML report")
    p.add_argument("--profile", default="quick", choices=["ci", "quick", "full"])
    p.add_argument("--notebooks", help="folder of chapter notebooks (default: the project's notebooks/)")
    p.add_argument("--only", nargs="+", metavar="NN", help="run only chapters starting with these prefixes")
    return ap


def _collect(p: argparse.ArgumentParser) -> None:
    p.add_argument("sources", nargs="+", metavar="SOURCE")
    p.add_argument("--person", required=True, help="folder name for this person")
    p.add_argument("--frames", type=COUNT, default=default(collect, "frames"),
                   help="frames of a synthetic clip")
    p.add_argument("--size", type=SIZE, default=default(collect, "size"),
                   help="frame size of a synthetic clip (pixels)")
    p.add_argument("--fps", type=_number(float, 1, 240), default=default(collect, "fps"),
                   help="frame rate of a synthetic clip")
    p.add_argument("--seed", type=_number(int, 0), default=default(collect, "seed"),
                   help="motion seed of a synthetic clip")
    p.add_argument("--section", help="only this part of a URL or file: START-END, e.g. 0:10-0:40")
    p.add_argument("--max-height", type=_number(int, 64, 4320), default=default(collect, "max_height"),
                   help="highest resolution to download")
    p.add_argument("--overwrite", action="store_true", help="replace a different clip of the same name")


def _extract(p: argparse.ArgumentParser) -> None:
    extract = extraction.extract
    p.add_argument("sources", nargs="+", metavar="CLIP_OR_FOLDER")
    p.add_argument("--person", required=True, help="name of the face set (workspace/faces/NAME)")
    p.add_argument("--detector", default=default(extract, "detector"), choices=DETECTORS)
    p.add_argument("--size", type=_number(int, 32, 1024), default=default(extract, "size"),
                   help="aligned crop size in pixels")
    p.add_argument("--every", type=COUNT, default=default(extract, "every"), help="use every Nth frame")
    p.add_argument("--min-size", type=NONNEG, default=default(extract, "min_size"),
                   help="drop faces smaller than this (pixels)")
    p.add_argument("--min-blur", type=NONNEG, help="drop crops whose sharpness score is below this")
    p.add_argument("--yaw-range", type=_number(float, -180, 180), nargs=2, metavar=("MIN", "MAX"),
                   help="keep only these yaws")
    p.add_argument("--reference", metavar="PHOTO_OR_FOLDER",
                   help="keep only faces of this person: a photo (or folder of photos) showing them alone")
    p.add_argument("--max-distance", type=_number(float, above=0, high=2), default=identity.THRESHOLD,
                   help="identity distance to the reference within which a face counts as the person "
                        f"(default {identity.THRESHOLD})")
    p.add_argument("--overwrite", action="store_true", help="replace an existing face set (only on success)")


def _train(p: argparse.ArgumentParser) -> None:
    p.add_argument("--persons", nargs=2, required=True, metavar=("A", "B"),
                   help="face sets in workspace/faces")
    p.add_argument("--config", default="lite", choices=list(LEARNING_RATES))
    p.add_argument("--steps", type=COUNT, required=True, help="train until this step")
    p.add_argument("--resume", action="store_true", help="continue from the latest checkpoint")
    p.add_argument("--model", help="model folder name under workspace/models (default A-B-config)")
    start = p.add_mutually_exclusive_group()
    start.add_argument("--base", help="a new model starts from this pretrained base file "
                                      "(default: the base shipped for --config, if the recipe uses one)")
    start.add_argument("--from-scratch", action="store_true", help="a new model starts from random weights")
    # settings: None when not given, so that --resume keeps the saved ones (defaults: recipe.recipe)
    p.add_argument("--batch-size", type=_number(int, 1, 4096),
                   help=f"faces per person per step (default {KEPT['batch_size']})")
    rates = ", ".join(f"{v:g} for {k}" for k, v in LEARNING_RATES.items())
    p.add_argument("--lr", type=_number(float, above=0, high=1), help=f"learning rate (default: {rates})")
    p.add_argument("--seed", type=_number(int, 0), help="random seed (default 0)")
    p.add_argument("--masked", action=argparse.BooleanOptionalAction,
                   help="L1 only inside the face mask (default; --no-masked for the classic plain L1)")
    p.add_argument("--ssim", type=_number(float, 0, 10),
                   help=f"weight of an extra (1 - SSIM) term (default {KEPT['ssim_weight']}; "
                        "0 = classic L1 only)")
    p.add_argument("--clip-grad", type=NONNEG,
                   help=f"gradient-norm clipping (default {KEPT['clip_grad']}; 0 = off)")
    p.add_argument("--decay", action=argparse.BooleanOptionalAction,
                   help="cosine learning-rate decay to 5%% over --steps (default; --no-decay: constant)")
    p.add_argument("--device", help="cpu, cuda, cuda:N or mps (default: the best one here)")
    p.add_argument("--precision", choices=["auto", "bf16", "fp32"],
                   help="bf16 autocast or fp32 (default auto: bf16 on CUDA)")
    p.add_argument("--preview-every", type=COUNT,
                   help=f"steps between preview images (default {commands.TRAIN_EXTRAS['preview_every']})")
    p.add_argument("--checkpoint-every", type=COUNT,
                   help=f"steps between checkpoints (default {commands.TRAIN_EXTRAS['checkpoint_every']})")


def _pretrain(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default="lite", choices=list(LEARNING_RATES))
    p.add_argument("--people", type=_number(int, 2, 1000), default=BASE_RECIPE["count"],
                   help=f"made-up people seed{FIRST_SEED}, seed{FIRST_SEED + 1}, ...")
    p.add_argument("--frames", type=_number(int, 8, 10000), default=BASE_RECIPE["frames"],
                   help="frames rendered per person")
    p.add_argument("--steps", type=COUNT, default=BASE_RECIPE["steps"], help="training steps")
    p.add_argument("--seed", type=_number(int, 0), default=BASE_RECIPE["seed"], help="random seed")
    p.add_argument("--swaps", action="store_true",
                   help="teach an identity-conditioned decoder with swaps between the people (their truth)")
    p.add_argument("--film", action="store_true",
                   help="with --swaps: the identity vector scales and shifts every decoder layer")
    p.add_argument("--stride", type=_number(int, 1, 100), default=1,
                   help="with --swaps: every Nth frame of a longer clip (few frames a person, spread out)")
    p.add_argument("--identity-net", action="store_true",
                   help="build our own identity net instead of a base (for the identity_loss knob)")
    p.add_argument("--out", help="the base file (default: WORKSPACE/bases/CONFIG.safetensors)")
    p.add_argument("--device", help="cpu, cuda, cuda:N or mps (default: the best one here)")


def _convert(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", metavar="INPUT", help="the video whose faces are replaced")
    p.add_argument("--model", required=True,
                   help="a model folder (its latest checkpoint) or a checkpoint folder")
    p.add_argument("--to", required=True, metavar="NAME", help="the person whose decoder draws the new faces")
    p.add_argument("--out", required=True, help="output MP4 (refused if it exists, unless --overwrite)")
    p.add_argument("--detector", default="auto", choices=DETECTORS)
    p.add_argument("--color", default=SWAP.color, choices=COLOR_MODES, help="colour matching")
    p.add_argument("--blend", default=SWAP.blend, choices=BLEND_MODES)
    p.add_argument("--erode", type=FRACTION, default=SWAP.erode,
                   help="mask erosion, fraction of the face size")
    p.add_argument("--feather", type=FRACTION, default=SWAP.feather,
                   help="mask edge softness, fraction of the face size")
    p.add_argument("--min-size", type=NONNEG, default=SWAP.min_size,
                   help="leave faces smaller than this (pixels) untouched")
    p.add_argument("--batch-size", type=_number(int, 1, 4096), default=SWAP.batch_size,
                   help="faces per model call")
    p.add_argument("--device", help="cpu, cuda, cuda:N or mps (default: the best one here)")
    p.add_argument("--detect-every", type=COUNT, default=SWAP.detect_every,
                   help="detect faces on every Nth frame only, interpolating between (faster, less exact)")
    p.add_argument("--start", type=SECONDS, default=0.0, help="seconds into the input to start")
    p.add_argument("--end", type=_number(float, above=0), help="seconds into the input to stop")
    p.add_argument("--resize", type=_number(int, 16, 4320), help="output height in pixels (aspect kept)")
    p.add_argument("--side-by-side", action="store_true", help="write original | swapped")
    p.add_argument("--gif", help="also save a GIF of a short range to this path")
    p.add_argument("--gif-start", type=SECONDS, default=0.0, help="GIF start, seconds into the output")
    p.add_argument("--gif-length", type=_number(float, above=0, high=60), default=3.0,
                   help="GIF length in seconds")
    p.add_argument("--no-provenance", action="store_true",
                   help="omit the visible 'synthetic' label, the metadata tag, the invisible watermark "
                        "and the signed content credentials (label swaps you publish!)")
    p.add_argument("--no-identity", action="store_true",
                   help="skip the identity score (sampled faces against both persons' face sets in "
                        "--workspace)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output (only on success)")


def _verify(p: argparse.ArgumentParser) -> None:
    p.add_argument("videos", nargs="+", metavar="VIDEO")
    p.add_argument("--swap-detector", metavar="FILE",
                   help="a swap detector file (chapter 09) to judge unmarked videos")
    p.add_argument("--detector", default="auto", choices=DETECTORS, help="face detector for --swap-detector")
    p.add_argument("--max-frames", type=COUNT, default=64,
                   help="frames the swap detector looks at (default 64)")


def _scan(p: argparse.ArgumentParser) -> None:
    p.add_argument("video", metavar="VIDEO")
    p.add_argument("--swap-detector", metavar="FILE",
                   help="a swap detector file (default: WORKSPACE/detectors/swap_detector.safetensors, "
                        "saved by chapter 09)")
    p.add_argument("--detector", default="auto", choices=DETECTORS, help="face detector")
    p.add_argument("--heatmap", metavar="OUT",
                   help="also write a video (MP4) of where it sees the seam of a paste")
    p.add_argument("--max-frames", type=COUNT, help="look at the first N frames only")
    p.add_argument("--overwrite", action="store_true", help="replace an existing heatmap video")
