"""workspace: the one name check, folder layout, atomic writes, writer locks; pipeline: stages, errors, joins."""

import os
import subprocess
import sys
import threading
import time

import pytest

from faceswap_core import FaceswapError, files, pipeline, workspace


@pytest.mark.parametrize("name", ["ines", "seed7", "ana_b", "a-b-lite", "X1"])
def test_good_names_pass(name):
    assert workspace.check_name(name) == name


@pytest.mark.parametrize("name", ["ines.v2", "../up", "a b", "", "-lead", "é", "a" * 65, "x/y", ".hidden",
                                  "nl\n", "tab\t", "a\nb", 7, None])
def test_names_that_would_break_a_later_stage_are_refused_in_one_line(name):
    with pytest.raises(FaceswapError, match="letters, digits") as e:
        workspace.check_name(name)
    assert "\n" not in str(e.value)


def test_folder_layout_is_named_in_one_place(tmp_path):
    assert workspace.faces_dir(tmp_path, "ines") == tmp_path / "faces" / "ines"
    assert workspace.clips_dir(tmp_path, "ines") == tmp_path / "clips" / "ines"
    assert workspace.model_dir(tmp_path, ["ines", "tomas"], "lite") == tmp_path / "models" / "ines-tomas-lite"
    assert workspace.model_dir(tmp_path, ["ines", "tomas"], "lite", "mine") == tmp_path / "models" / "mine"
    with pytest.raises(FaceswapError, match="person name"):
        workspace.model_dir(tmp_path, ["ines.x", "tomas"])


def test_atomic_write_replaces_only_when_complete(tmp_path):
    target = tmp_path / "data.json"
    target.write_text("old")
    files.write_json(target, {"a": 1})
    assert target.read_text() == '{"a": 1}'
    with pytest.raises(TypeError):  # fails while the temp file is being written
        files.write_atomic(target, 123)
    assert target.read_text() == '{"a": 1}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.json"]  # no temp file left
    with pytest.raises(FaceswapError, match="already exists"):
        files.AtomicPath(target)


def test_a_name_claimed_meanwhile_is_never_replaced_without_overwrite(tmp_path):
    """Two runs writing one new name: both saw it free at the start; the one that finishes second must not
    replace the first one's file (its own result is discarded, with one line), unless it may overwrite."""
    target = tmp_path / "out.mp4"
    first, second = files.AtomicPath(target), files.AtomicPath(target)
    first.tmp.write_bytes(b"first")
    second.tmp.write_bytes(b"second")
    first.commit()
    with pytest.raises(FaceswapError, match=r"out.mp4: was written by another run meanwhile; it is kept"):
        second.commit()
    assert target.read_bytes() == b"first" and sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]
    third = files.AtomicPath(target, overwrite=True)
    third.tmp.write_bytes(b"third")
    third.commit()
    assert target.read_bytes() == b"third" and sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]


def test_a_second_writer_is_refused_at_once_naming_the_holder(tmp_path):
    folder = tmp_path / "models" / "m"
    with files.lock(folder, "the model"):
        t0 = time.perf_counter()
        with pytest.raises(FaceswapError, match=f"pid {os.getpid()}"):
            with files.lock(folder, "the model"):
                pass
        assert time.perf_counter() - t0 < 1.0
    with files.lock(folder):  # released: the next writer takes it
        pass


def test_a_lock_beside_a_users_file_goes_with_its_holder_and_never_admits_two(tmp_path):
    with files.lock(tmp_path, "the output o.mp4", name=".o-mp4.lock", remove=True) as held:
        assert held.exists()
        with pytest.raises(FaceswapError, match=f"the output o.mp4 is being written by pid {os.getpid()}"):
            with files.lock(tmp_path, "the output o.mp4", name=".o-mp4.lock", remove=True):
                pass
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing left beside the output
    if files.fcntl is None:
        return
    # a writer that locked the old file just as its holder removed it holds nothing under the name: the next
    # writer takes the new file, and a writer that finds its locked file gone lets it go
    stale = os.open(tmp_path / ".o-mp4.lock", os.O_RDWR | os.O_CREAT)
    files.fcntl.flock(stale, files.fcntl.LOCK_EX | files.fcntl.LOCK_NB)
    (tmp_path / ".o-mp4.lock").unlink()
    try:
        with files.lock(tmp_path, "the output o.mp4", name=".o-mp4.lock", remove=True):
            pass
    finally:
        os.close(stale)


def test_the_lock_of_a_dead_process_is_taken_over(tmp_path):
    folder = tmp_path / "faces" / "ines"
    code = ("import os, sys; from faceswap_core import files\n"
            f"cm = files.lock({str(folder)!r}); cm.__enter__(); print('held', flush=True); os._exit(0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "held" in out.stdout
    with files.lock(folder):  # the dead holder's lock is gone with its process
        pass


def test_collect_and_extract_refuse_a_second_writer_of_one_person_and_keep_its_data(cast_clip, tmp_path):
    from faceswap_core import collect
    from faceswap_core.faces import extraction

    rec = collect.collect("synthetic:ines", "ines", tmp_path, frames=4, size=64)
    clip = rec.path(tmp_path, "ines")
    before = clip.read_bytes()
    with files.lock(workspace.clips_dir(tmp_path, "ines"), "the clips of ines"):
        with pytest.raises(FaceswapError, match="the clips of ines is being written by pid"):
            collect.collect("synthetic:ines", "ines", tmp_path, frames=5, size=64)
    assert clip.read_bytes() == before and len(collect.load_manifest(tmp_path, "ines")) == 1
    extraction.extract(cast_clip, "ines", tmp_path, detector="truth", size=64, progress=False)
    kept = sorted(p.name for p in workspace.faces_dir(tmp_path, "ines").iterdir())
    faces_root = workspace.faces_dir(tmp_path, "ines").parent
    with files.lock(faces_root, "the face set of ines", name=".ines.lock"):
        with pytest.raises(FaceswapError, match="the face set of ines is being written by pid"):
            extraction.extract(cast_clip, "ines", tmp_path, detector="truth", size=64, overwrite=True, progress=False)
        extraction.extract(cast_clip, "kofi", tmp_path, detector="truth", size=64, progress=False)  # another person
    assert sorted(p.name for p in workspace.faces_dir(tmp_path, "ines").iterdir()) == kept
    assert not [p for p in faces_root.iterdir() if ".extracting-" in p.name]  # no leftovers


def test_pipeline_keeps_order_and_reports_busy_time():
    seen = []
    busy = pipeline.run(pipeline.chunked(range(10), 3),
                        [pipeline.Stage("read", lambda c: c), pipeline.Stage("double", lambda c: [2 * x for x in c]),
                         pipeline.Stage("keep", seen.extend)])
    assert seen == [2 * x for x in range(10)] and set(busy) == {"read", "double", "keep"}
    assert list(pipeline.chunked([], 4)) == [] and list(pipeline.chunked(range(5), 2))[-1] == [4]


def test_pipeline_error_stops_every_stage_and_is_raised_in_the_caller():
    before = threading.active_count()
    seen = []

    def fail(c):
        if c[0] >= 6:
            raise RuntimeError("stage broke")
        return c

    with pytest.raises(RuntimeError, match="stage broke"):
        stages = [pipeline.Stage("read", lambda c: c), pipeline.Stage("fail", fail), pipeline.Stage("out", seen.extend)]
        pipeline.run(pipeline.chunked(range(1000), 2), stages)
    assert seen == list(range(len(seen))) and len(seen) <= 6  # in order, and nothing after the error
    assert threading.active_count() == before  # every thread joined


def test_temps_of_killed_writers_are_removed_and_live_ones_kept(tmp_path):
    import torch

    from faceswap_core.training import checkpoint, model

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()  # a pid that has exited
    ck = tmp_path / "m" / "checkpoints"
    ck.mkdir(parents=True)
    (ck / f".step-0000003.tmp-{dead}").mkdir()  # a checkpoint save killed half way
    (ck / f".step-0000003.tmp-{dead}" / "model.safetensors").write_bytes(b"x" * 1000)
    live = ck / f".step-0000004.tmp-{os.getpid()}"  # a save still running (this process)
    live.mkdir()
    m = model.FaceSwapModel.create("lite", ["a", "b"])
    opt = {p: torch.optim.Adam(m.parameters()) for p in m.persons}
    checkpoint.save(tmp_path / "m", m, opt, {"step": 5, "train_config": {}}, [])
    assert sorted(p.name for p in ck.iterdir()) == [live.name, "step-0000005"]
    part = tmp_path / f".clip.abc123.part-{dead}.mp4"  # a video writer killed half way
    part.write_bytes(b"half a video")
    other = tmp_path / f".other.abc123.part-{dead}.mp4"  # another file's temp: not ours to judge here
    other.write_bytes(b"x")
    files.write_atomic(tmp_path / "clip.mp4", b"done")
    assert not part.exists() and other.exists() and (tmp_path / "clip.mp4").read_bytes() == b"done"
    # what goes into place has the mode a plain write gives (umask applied), not the temp's private 0600/0700
    old = os.umask(0o022)
    try:
        checkpoint.save(tmp_path / "m", m, opt, {"step": 6, "train_config": {}}, [])
        from faceswap_core import synth
        from faceswap_core.faces import extraction

        clip = synth.render_clip(synth.CAST["ines"], 2, tmp_path / "c.mp4", size=96)
        extraction.extract(clip, "ines", tmp_path, detector="truth", size=32, min_size=1, progress=False)
    finally:
        os.umask(old)
    modes = {p.name: p.stat().st_mode & 0o777 for p in [ck / "step-0000006", *(ck / "step-0000006").iterdir(),
                                                         tmp_path / "faces/ines", *(tmp_path / "faces/ines").iterdir()]}
    assert set(modes.values()) <= {0o755, 0o644} and modes["step-0000006"] == modes["ines"] == 0o755, modes
