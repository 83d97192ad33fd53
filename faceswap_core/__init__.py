"""faceswap-lab's core: the stages of DeepFakes-style face swapping, one subpackage per stage, in the order
of the chapters. Data flows one way, and so do the imports: a stage imports only the stages it points to
here (a DAG; tests/test_layout.py checks every import, lazy ones included).

    ground       errors, device, workspace (names, folders), files (atomic writes, locks), media (reading
                 video and audio), encode (writing video and GIFs), pipeline (threaded stages), progress
                 (bars): used by every stage, importing no stage
    synth/       the cast: identities, renderer, motion and voice, clips with their truth        ch. 01
    collect      clips from URLs (yt-dlp), local files and the cast, with a manifest             ch. 01
    faces/       detect (truth, cascade, dlib, FAN), align, steady, landmark scores, identity (the
                 recogniser and its verdict on a swap), face sets, extraction, curation         ch. 02
    training/    augment (random transform and warp), model, losses, recipe, remedies (code critic,
                 eyes and mouth), the trainer loop, distributed (torchrun), checkpoint, pretrain
                 and swap_pretrain (the base)                                                    ch. 03-04, 08
    provenance/  what marks a swap: visible label and tags, watermark, content credentials,
                 verify                                                                          ch. 05, 09
    swapping/    one frame (find, align, decode, blend), tracking between detections, a whole video  ch. 05
    evaluation/  pixel scores against the truth, the truth probe, the recogniser on cast swaps,
                 code probe (does the code say who it is), claims, experiments, pretraining (the
                 base's made-up people)                                                          ch. 04-08
    detection/   telling swaps from real faces: features, nets, data set, the saved swap detector   ch. 09
    lab/         what only the notebooks need: figures, widgets, sample photos, report, tour
    cli/         `faceswap-core <stage> ...` mirrors the notebooks (arguments, commands)

    synth ------------> ground
    collect ----------> synth, ground
    faces ------------> synth, ground
    training ---------> faces, ground
    provenance -------> ground
    swapping ---------> training, faces, provenance, ground
    evaluation -------> swapping, training, faces, synth, ground
    detection --------> evaluation, swapping, faces, synth, ground
    lab --------------> detection, evaluation, training, faces, synth, ground
    cli --------------> every stage
"""

from .errors import FaceswapError

GROUND = ("errors", "device", "workspace", "files", "media", "encode", "pipeline", "progress")
STAGES: dict[str, tuple[str, ...]] = {  # stage -> the stages it may import (besides its own modules)
    "ground": (),
    "synth": ("ground",),
    "collect": ("synth", "ground"),
    "faces": ("synth", "ground"),
    "training": ("faces", "ground"),
    "provenance": ("ground",),
    "swapping": ("training", "faces", "provenance", "ground"),
    "evaluation": ("swapping", "training", "faces", "synth", "ground"),
    "detection": ("evaluation", "swapping", "faces", "synth", "ground"),
    "lab": ("detection", "evaluation", "training", "faces", "synth", "ground"),
    "cli": ("lab", "detection", "evaluation", "swapping", "provenance", "training", "faces", "collect",
            "synth", "ground"),
}

__version__ = "0.1.0"
__all__ = ["GROUND", "STAGES", "FaceswapError", "__version__"]
