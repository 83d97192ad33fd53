"""What each `faceswap-core` subcommand does: one function a command, each calling the stage it names and
printing a short summary (the parser is in `arguments`)."""

from __future__ import annotations

import argparse

from ..errors import FaceswapError
from ..workspace import detector_file, keys_dir

TRAIN_FLAGS = {  # argparse name -> TrainConfig field
    "batch_size": "batch_size", "lr": "lr", "seed": "seed", "masked": "masked", "ssim": "ssim_weight",
    "clip_grad": "clip_grad", "precision": "precision", "preview_every": "preview_every",
    "checkpoint_every": "checkpoint_every"}
TRAIN_EXTRAS = {"preview_every": 100, "checkpoint_every": 500}  # the CLI's own, on top of `recipe.recipe`


def do_cast(args: argparse.Namespace) -> None:
    from .. import synth

    for name, p in synth.CAST.items():
        extras = [x for x, on in (("beard", p.beard > 0), ("glasses", p.glasses)) if on]
        print(f"{name:<8} hair {p.hair_style:<6} {' '.join(extras)}".rstrip())
    print("(any seed<N>, e.g. seed7, is one more made-up person)")


def do_collect(args: argparse.Namespace) -> None:
    from .. import collect

    for src in args.sources:
        rec = collect.collect(src, args.person, args.workspace, frames=args.frames, size=args.size,
                              fps=args.fps, seed=args.seed, section=args.section, max_height=args.max_height,
                              overwrite=args.overwrite, progress=True)
        print(f"{rec.path(args.workspace, args.person)}: {rec.frames} frames, {rec.width}x{rec.height}, "
              f"{rec.fps:g} fps, {rec.duration:.1f} s, audio {'yes' if rec.has_audio else 'no'}")


def do_info(args: argparse.Namespace) -> None:
    from .. import media

    for f in args.files:
        i = media.video_info(f)
        if i.image:  # (PyAV reads a photo as a one-frame "video")
            raise FaceswapError(f"{f}: an image, not a video ({i.width}x{i.height}); info reads video files")
        print(f"{f}: {i.width}x{i.height}, {i.fps:g} fps, {i.frames} frames, {i.duration:.2f} s, "
              f"audio {f'{i.audio_duration:.2f} s at {i.audio_rate} Hz' if i.has_audio else 'none'}")


def do_extract(args: argparse.Namespace) -> None:
    from ..faces import extraction

    yaw = tuple(args.yaw_range) if args.yaw_range else None
    summary = extraction.extract(args.sources, args.person, args.workspace, detector=args.detector,
                                 size=args.size, every=args.every, min_size=args.min_size,
                                 min_blur=args.min_blur, yaw_range=yaw, reference=args.reference,
                                 max_distance=args.max_distance, overwrite=args.overwrite)
    print(summary)  # (no face kept is an error: an empty set is never written)


def do_faces(args: argparse.Namespace) -> None:
    from ..faces import curate, faceset
    from ..files import write_atomic
    from ..lab import viz
    from ..workspace import faces_dir

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


def do_train(args: argparse.Namespace) -> None:
    from ..device import pick_device
    from ..training import recipe, train
    from ..workspace import model_dir

    pick_device(args.device)  # a device this machine lacks is refused before anything is loaded
    given = {k: getattr(args, flag) for flag, k in TRAIN_FLAGS.items() if getattr(args, flag) is not None}
    if args.decay is not None:
        given["decay_steps"] = args.steps if args.decay else 0
    # a new model gets the kept recipe and the flags given; a resumed one keeps its saved settings but the
    # flags given
    config = recipe.recipe(args.config, args.steps, **{**TRAIN_EXTRAS, **given})  # bad values refused here
    distributed = train.init_distributed()
    out = model_dir(args.workspace, args.persons, args.config, args.model)
    faces = train.load_faces(args.workspace, args.persons)
    start = None
    if not args.resume and not train.checkpoints_in(out):  # a new model: from a base or from scratch
        start = recipe.starting_model(args.persons, args.config, args.base, args.from_scratch, config.seed)
        print(f"{out}: a new model, " + (f"starting from the base {args.base or 'shipped for ' + args.config}"
                                         if args.base or not args.from_scratch and recipe.FROM_BASE
                                         else "starting from scratch"))
    trainer = train.open_trainer(out, faces, args.persons, args.config, config, resume=args.resume,
                                 device=args.device, model=start, **(given if args.resume else {}))
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


def do_pretrain(args: argparse.Namespace) -> None:
    from pathlib import Path

    from ..device import pick_device
    from ..evaluation import pretraining
    from ..training import pretrain

    pick_device(args.device)
    if args.identity_net:
        out = Path(args.out) if args.out else Path(args.workspace) / "bases" / "identity.safetensors"
        pretraining.build_identity_net(out, args.people, args.frames, args.steps, args.seed)
        print(f"{out}: an identity net of {args.people} people, {out.stat().st_size / 1e6:.1f} MB, sha256 "
              f"{pretrain.file_hash(out)}")
        return
    out = Path(args.out) if args.out else Path(args.workspace) / "bases" / f"{args.config}.safetensors"
    if out.exists():
        print(f"{out} exists: it is replaced only once the new base is complete")
    pretraining.build_base(out, args.config, args.people, args.frames, args.steps, args.seed,
                           device=args.device, swaps=args.swaps, film=args.film, stride=args.stride)
    print(f"{out}: a {args.config} base of {args.people} people, {args.steps} steps, "
          f"{out.stat().st_size / 1e6:.1f} MB, sha256 {pretrain.file_hash(out)}")


def do_convert(args: argparse.Namespace) -> None:
    from ..faces import identity
    from ..provenance import credentials, watermark
    from ..swapping import convert, options, swap

    convert.check_job(args.input, args.out, gif=args.gif, overwrite=args.overwrite, start=args.start,
                      end=args.end, resize=args.resize, gif_start=args.gif_start)  # before the model loads
    opts = options.SwapOptions(color=args.color, blend=args.blend, erode=args.erode, feather=args.feather,
                            min_size=args.min_size, batch_size=args.batch_size,
                            detect_every=args.detect_every)
    swapper = swap.Swapper(args.model, args.to, args.detector, options=opts, clip=args.input,
                           device=args.device)
    persons = swapper.model.persons
    source = next((p for p in persons if p != args.to), None)
    means = None
    if source and not args.no_identity:
        means = identity.person_means(args.workspace, source, args.to)
    keys = keys_dir(args.workspace)
    # a damaged key fails here, before the work
    signer = None if args.no_provenance else credentials.local_identity(keys)
    summary = convert.convert_video(args.input, args.out, swapper, start=args.start, end=args.end,
                                    identity_of=means, resize=args.resize, side_by_side=args.side_by_side,
                                    provenance=not args.no_provenance, overwrite=args.overwrite, gif=args.gif,
                                    gif_seconds=(args.gif_start, args.gif_start + args.gif_length),
                                    mark=None if args.no_provenance else watermark.mark_frame)
    print(summary)
    if signer is not None:
        credentials.sign(args.out, parent=args.input, identity=signer)
        print(f"content credentials: {args.out} signed with the local TEST identity in {keys}/ (no one else "
              "trusts it; a publisher would sign with a certificate from a C2PA-recognised CA)")


def do_verify(args: argparse.Namespace) -> int:
    from ..detection import swap_detector
    from ..provenance import verifier

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


def do_scan(args: argparse.Namespace) -> None:
    from ..detection import swap_detector

    model = swap_detector.load(args.swap_detector or detector_file(args.workspace))
    result = swap_detector.scan(args.video, model, args.detector, heatmap=args.heatmap,
                                max_frames=args.max_frames, overwrite=args.overwrite, progress=True)
    print(swap_detector.describe(result))


def do_tour(args: argparse.Namespace) -> None:
    from ..lab import tour

    index = tour.run_tour(args.profile, args.workspace, args.notebooks or tour.NOTEBOOKS, only=args.only)
    print(f"report: {index}")
