import subprocess
import sys

from faceswap_core import synth


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "faceswap_core.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def test_cast_lists_every_member():
    out = run("cast")
    assert out.returncode == 0
    for name in synth.cast_names():
        assert name in out.stdout


def test_collect_and_probe(tmp_path):
    out = run("collect", "synthetic:mei", "--person", "mei", "--frames", "6", "--size", "64",
              "--workspace", str(tmp_path))
    assert out.returncode == 0, out.stderr
    clip = tmp_path / "clips/mei/mei_s0_6f_64px.mp4"
    assert clip.exists()
    out = run("probe", str(clip))
    assert "64x64" in out.stdout and "6 frames" in out.stdout


def test_bad_input_is_one_line_and_non_zero(tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00" * 1000)
    for args in (["probe", str(bad)], ["collect", str(bad), "--person", "x", "--workspace", str(tmp_path)],
                 ["collect", "synthetic:nobody", "--person", "x", "--workspace", str(tmp_path)]):
        out = run(*args)
        assert out.returncode == 2
        assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr
        assert out.stderr.startswith("faceswap-core: error:")


def test_a_workspace_that_is_a_file_or_bad_settings_are_one_line(tmp_path):
    not_a_folder = tmp_path / "ws.txt"
    not_a_folder.write_text("notes")
    cases = {("collect", "synthetic:mei", "--person", "mei", "--frames", "4", "--size", "64", "--workspace",
              str(not_a_folder)): "is a file; give a folder",
             ("train", "--persons", "a", "b", "--steps", "5", "--device", "tpu", "--workspace", str(tmp_path)):
                 "device 'tpu'",
             ("train", "--persons", "a", "b", "--steps", "5", "--workspace", str(tmp_path)): "no face set here",
             ("collect", "synthetic:mei", "--person", "mei", "--frames", "0", "--workspace", str(tmp_path)):
                 "argument --frames: 0: it must be at least 1",
             ("collect", "synthetic:mei", "--person", "mei", "--size", "0", "--workspace", str(tmp_path)):
                 "argument --size: 0: it must be from 32 to 4096",
             ("extract", str(not_a_folder), "--person", "mei", "--every", "0", "--workspace", str(tmp_path)):
                 "argument --every: 0: it must be at least 1",
             ("train", "--persons", "a", "b", "--steps", "5", "--batch-size", "0", "--workspace", str(tmp_path)):
                 "argument --batch-size: 0: it must be from 1 to 4096",
             ("train", "--persons", "a", "b", "--steps", "0", "--workspace", str(tmp_path)): "argument --steps: 0"}
    for args, expected in cases.items():
        out = run(*args)
        assert out.returncode == 2, out.stderr
        assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr
        assert expected in out.stderr, out.stderr
    assert not_a_folder.read_text() == "notes"  # nothing was written over it
