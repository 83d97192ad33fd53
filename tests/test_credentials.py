"""credentials: a local test identity, C2PA Content Credentials signed into an MP4 and read back, offline."""

import os
import shutil
import stat
from pathlib import Path

import numpy as np
import pytest

from faceswap_core import FaceswapError, encode, media
from faceswap_core.provenance import credentials

SWAPPED = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"


def _frames(n=8, size=64, shift=0):
    out = []
    for i in range(n):
        f = np.full((size, size, 3), (i * 25 + shift) % 256, np.uint8)
        f[:, i * 6:(i + 1) * 6] = 255
        out.append(f)
    return out


@pytest.fixture(scope="module")
def identity(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ws") / "keys"
    return folder, credentials.local_identity(folder)


@pytest.fixture(scope="module")
def signed(tmp_path_factory, identity):
    """(source, signed swap) MP4s: the swap is signed with the test identity, the source is not."""
    d = tmp_path_factory.mktemp("cred")
    source = encode.write_video(d / "source.mp4", _frames(), 10.0)
    out = encode.write_video(d / "swapped.mp4", _frames(shift=100), 10.0)
    assert credentials.sign(out, parent=source, identity=identity[1]) == out
    return source, out


def _beside(path):
    return sorted(p.name for p in path.parent.iterdir())


def test_the_test_identity_is_made_once_kept_private_and_reused(identity):
    folder, (chain, key, root) = identity
    assert chain.count(b"BEGIN CERTIFICATE") == 2 and chain.endswith(root) and b"PRIVATE KEY" in key
    assert stat.S_IMODE(os.stat(folder / "signer.key").st_mode) == 0o600
    assert credentials.local_identity(folder) == (chain, key, root)  # the same bytes: reused, not remade
    assert (folder / "chain.pem").read_bytes() == chain and (folder / "root.pem").read_bytes() == root
    assert not [p for p in folder.iterdir() if ".part-" in p.name]


def test_signed_video_reads_back_as_a_valid_statement_that_its_faces_were_swapped(signed, identity):
    source, out = signed
    c = credentials.read(out)
    assert c["found"] and c["says_swapped"] and c["state"] == "Valid"
    assert c["description"] == "faces replaced by face swapping" and c["digital_source_type"] == SWAPPED
    assert c["actions"] == ["c2pa.opened", "c2pa.edited"] and c["claim_generator"].startswith("faceswap-lab ")
    assert c["signer"] == "faceswap-lab test signer"
    assert c["failures"] == ["signingCredential.untrusted"]  # intact, but signed by no one a verifier knows
    trusted = credentials.read(out, trust=identity[1][2])  # ... unless it is given the test root
    assert trusted["state"] == "Trusted" and trusted["failures"] == []
    assert len(media.read_frames(out)[0]) == 8  # still a plain, playable MP4
    assert _beside(out) == ["source.mp4", "swapped.mp4"]  # signed in place, no temp left


def test_unsigned_and_reencoded_videos_carry_no_credentials(signed, tmp_path):
    source, out = signed
    c = credentials.read(source)
    assert not c["found"] and not c["says_swapped"] and c["actions"] == [] and "note" not in c
    copy = encode.write_video(tmp_path / "reencoded.mp4", media.read_frames(out)[0], 10.0)
    c = credentials.read(copy)
    assert not c["found"] and c["state"] is None and "note" not in c  # a re-encode drops the manifest


def test_an_edit_after_signing_reads_invalid(signed, tmp_path):
    edited = tmp_path / "edited.mp4"
    data = bytearray(signed[1].read_bytes())
    at = data.index(b"mdat") + 200  # one byte of the video itself
    data[at] ^= 0xFF
    edited.write_bytes(bytes(data))
    c = credentials.read(edited)
    assert c["found"] and c["state"] == "Invalid"
    assert any("mismatch" in f for f in c["failures"])


def test_a_failed_sign_leaves_the_video_untouched(signed, identity, tmp_path):
    source = signed[0]
    video = Path(shutil.copy(source, tmp_path / "video.mp4"))
    before = video.read_bytes()
    chain, key, root = identity[1]
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    for what, call in (("damaged key", lambda: credentials.sign(video, parent=source, identity=(chain, b"x", root))),
                       ("not an MP4", lambda: credentials.sign(text, parent=source, identity=identity[1])),
                       ("missing parent", lambda: credentials.sign(video, parent=tmp_path / "no.mp4",
                                                                   identity=identity[1]))):
        with pytest.raises(FaceswapError) as e:
            call()
        assert "\n" not in str(e.value) and str(tmp_path) in str(e.value), what
    assert video.read_bytes() == before and text.read_text() == "not a video"
    assert _beside(video) == ["notes.mp4", "video.mp4"]
    assert not credentials.read(video)["found"]


def test_a_damaged_key_file_is_named_with_what_to_do(identity, tmp_path):
    folder = tmp_path / "keys"
    shutil.copytree(identity[0], folder)
    (folder / "signer.key").write_bytes(b"-----BEGIN PRIVATE KEY-----\nbroken\n")
    with pytest.raises(FaceswapError, match=r"signer.key: damaged.*delete it") as e:
        credentials.local_identity(folder)
    assert "\n" not in str(e.value)
    (folder / "signer.key").write_bytes(identity[1][1])  # intact again, but the certificate is gone
    (folder / "chain.pem").unlink()
    with pytest.raises(FaceswapError, match=r"chain.pem: damaged or unreadable"):
        credentials.local_identity(folder)


def test_a_non_mp4_reads_as_not_found_with_a_note(tmp_path):
    gif = tmp_path / "a.gif"
    encode.write_gif(_frames(3), gif, 10.0, width=32)
    c = credentials.read(gif)
    assert not c["found"] and "not an MP4" in c["note"]


def test_without_c2pa_python_sign_says_to_install_it_and_read_finds_nothing(signed, identity, monkeypatch):
    monkeypatch.setattr(credentials, "c2pa", None)
    with pytest.raises(FaceswapError, match="c2pa-python"):
        credentials.sign(signed[1], parent=signed[0], identity=identity[1])
    c = credentials.read(signed[1])
    assert not c["found"] and c["note"] == "c2pa-python not installed"


def test_the_package_is_installed():
    assert credentials.c2pa is not None  # a project dependency: the tests above must not pass without it


def test_cli_convert_signs_its_output_and_verify_reports_it(tmp_path, capsys):
    """A tiny workspace made through the CLI (a 2-step model: the swap is poor, the credentials are not)."""
    import subprocess
    import sys

    from faceswap_core import cli

    ws = ["--workspace", str(tmp_path / "ws")]
    for person in ("ines", "tomas"):
        assert cli.main(["collect", f"synthetic:{person}", "--person", person, "--frames", "6", "--size", "96",
                         *ws]) == 0
        assert cli.main(["extract", str(tmp_path / "ws/clips" / person), "--person", person, "--size", "64",
                         "--min-size", "1", "--detector", "truth", *ws]) == 0
    assert cli.main(["train", "--persons", "ines", "tomas", "--steps", "2", "--batch-size", "2",
                     "--checkpoint-every", "2", *ws]) == 0
    clip, out = tmp_path / "ws/clips/ines/ines_s0_6f_96px.mp4", tmp_path / "out.mp4"
    capsys.readouterr()
    assert cli.main(["convert", str(clip), "--model", str(tmp_path / "ws/models/ines-tomas-lite"), "--to", "tomas",
                     "--out", str(out), "--detector", "truth", "--min-size", "1", "--no-identity", *ws]) == 0
    assert f"TEST identity in {tmp_path / 'ws' / 'keys'}" in capsys.readouterr().out
    c = credentials.read(out, trust=(tmp_path / "ws/keys/root.pem").read_bytes())
    assert c["state"] == "Trusted" and c["says_swapped"]
    done = subprocess.run([sys.executable, "-m", "faceswap_core.cli", "verify", str(out), str(clip)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    report = done.stdout.split(f"{clip}:")
    assert "content credentials found: Valid, says: faces replaced by face swapping" in report[0]
    assert "content credentials not found" in report[1]
