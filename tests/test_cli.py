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
    out = run("info", str(clip))
    assert "64x64" in out.stdout and "6 frames" in out.stdout


def test_bad_input_is_one_line_and_non_zero(tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00" * 1000)
    for args in (["info", str(bad)], ["collect", str(bad), "--person", "x", "--workspace", str(tmp_path)],
                 ["collect", "synthetic:nobody", "--person", "x", "--workspace", str(tmp_path)]):
        out = run(*args)
        assert out.returncode == 2
        assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr
        assert out.stderr.startswith("faceswap-core: error:")
