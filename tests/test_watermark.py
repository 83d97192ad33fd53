"""provenance: the invisible watermark survives re-encoding and a half-size resize; verify reads every
mark."""

import cv2
import numpy as np
import pytest

from faceswap_core import FaceswapError, encode, media, synth
from faceswap_core.provenance import labelling, verifier, watermark

FRAMES, SIZE = 10, 256


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    """A short 256 px cast clip of kofi (dark skin, white shirt: the hardest of the cast) and its frames."""
    path = tmp_path_factory.mktemp("watermark") / "kofi.mp4"
    synth.render_clip(synth.CAST["kofi"], FRAMES, path, size=SIZE, seed=1)
    return path, media.read_frames(path)[0]


@pytest.fixture(scope="module")
def marked(plain):
    """The clip as convert marks it: provenance tag, visible label, watermark (then H.264 at the default CRF)."""
    path, frames = plain
    out = path.with_name("marked.mp4")
    with encode.VideoWriter(out, 25.0, metadata=labelling.PROVENANCE) as w:
        for f in frames:
            w.write(watermark.mark_frame(labelling.label_frame(f.copy())))
    return out


def _reencode(frames, path, size=None):
    if size is not None:
        frames = [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames]
    encode.write_video(path, frames, 25.0, crf=28)
    return media.read_frames(path)[0]


def _voted(frames) -> float:
    return watermark.bit_accuracy(sum(watermark.extract(f) for f in frames))


def test_watermark_is_faint_and_survives_crf28_and_a_half_size_resize(plain, tmp_path):
    _, frames = plain
    marked = [watermark.mark_frame(f) for f in frames]
    mse = np.mean([(a.astype(float) - b) ** 2 for a, b in zip(frames, marked)])
    assert 10 * np.log10(255 ** 2 / mse) > 38  # PSNR: the change is small
    assert min(watermark.bit_accuracy(watermark.extract(f)) for f in marked) == 1.0
    crf28 = _reencode(marked, tmp_path / "crf28.mp4")
    assert _voted(crf28) == 1.0
    half = _reencode(crf28, tmp_path / "half.mp4", (SIZE // 2, SIZE // 2))  # 256 -> CRF 28 -> 128 -> CRF 28
    # verify's own threshold (<= 4 of 32 bits wrong, ~1e-5 by chance); 15 cast clips measure 0.97-1.0 here
    assert _voted(half) >= watermark.FOUND_ACCURACY
    assert np.mean([watermark.bit_accuracy(watermark.extract(f)) for f in half]) >= 0.9  # measured 0.96-1.0


def test_unmarked_frames_do_not_read_as_marked(plain):
    _, frames = plain
    assert _voted(frames) < 0.75  # a fair coin per bit: 0.5 +- 0.09
    flat = np.full((SIZE, SIZE, 3), 128, np.uint8)  # no content at all: the keyed dither decides
    assert watermark.bit_accuracy(watermark.extract(flat)) < 0.75
    other = [watermark.embed(f, 1 - np.array(watermark.PAYLOAD)) for f in frames[:3]]  # every bit flipped
    assert _voted(other) == 0.0


def test_verify_finds_tag_label_and_watermark_on_a_marked_clip(marked):
    result = verifier.verify(marked)
    assert result["tag"]["found"] and result["label"]["found"] and result["watermark"]["found"]
    assert result["watermark"]["bit_accuracy"] == 1.0 and result["frames_checked"] == FRAMES
    assert result["verdict"].startswith("synthetic: faces replaced by faceswap-lab")
    assert "watermark found" in verifier.describe(result)


def test_verify_keeps_the_watermark_and_label_when_the_tag_is_gone(marked, tmp_path):
    half = tmp_path / "half.mp4"
    _reencode(media.read_frames(marked)[0], half, (SIZE // 2, SIZE // 2))  # a re-encode drops the metadata
    result = verifier.verify(half)
    assert not result["tag"]["found"]
    assert result["watermark"]["found"] and result["label"]["found"]
    assert result["verdict"].startswith("synthetic")


def test_verify_finds_no_mark_on_a_plain_cast_clip(plain):
    result = verifier.verify(plain[0])
    assert not (result["tag"]["found"] or result["label"]["found"] or result["watermark"]["found"])
    assert result["label"]["score"] < 0.3 and result["watermark"]["bit_accuracy"] < 0.75
    assert result["verdict"].startswith("no faceswap-lab mark found")


def test_bad_input_is_one_line(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a video\n")
    frame = np.zeros((SIZE, SIZE, 3), np.uint8)
    for call, words in ((lambda: verifier.verify(text), "notes.txt"),
                        (lambda: watermark.embed(frame, [1] * 65), "too long"),
                        (lambda: watermark.mark_frame(frame[:32, :32]), "too small"),
                        (lambda: watermark.mark_frame(frame.astype(np.float32)), "uint8")):
        with pytest.raises(FaceswapError) as e:
            call()
        assert words in str(e.value) and "\n" not in str(e.value)
    assert watermark.capacity(frame.shape) == 64 and watermark.capacity((32, 32, 3)) == 0


def test_verify_reports_content_credentials_and_counts_them(marked, tmp_path):
    from faceswap_core.provenance import credentials

    signed = tmp_path / "signed.mp4"
    signed.write_bytes(marked.read_bytes())
    chain, key, root = credentials.local_identity(tmp_path / "keys")
    credentials.sign(signed, parent=marked, identity=(chain, key, root))
    result = verifier.verify(signed, trust=root)
    assert result["credentials"]["state"] == "Trusted" and result["credentials"]["says_swapped"]
    assert result["verdict"].endswith("(found: watermark, label, tag, credentials)")
    text = verifier.describe(result)
    assert "content credentials found: Trusted, says: faces replaced by face swapping, signed by faceswap-lab" in text
    untrusted = verifier.verify(signed)
    assert untrusted["credentials"]["state"] == "Valid" and "credentials" in untrusted["verdict"]
    unsigned = verifier.verify(marked)
    assert not unsigned["credentials"]["found"] and "credentials" not in unsigned["verdict"]
    assert "content credentials not found" in verifier.describe(unsigned)


def test_verify_counts_credentials_alone_as_a_mark_but_not_after_an_edit(plain, tmp_path):
    from faceswap_core.provenance import credentials

    signed = tmp_path / "signed.mp4"
    signed.write_bytes(plain[0].read_bytes())
    credentials.sign(signed, parent=plain[0], identity=credentials.local_identity(tmp_path / "keys"))
    result = verifier.verify(signed)
    assert not (result["tag"]["found"] or result["label"]["found"] or result["watermark"]["found"])
    assert result["verdict"] == "synthetic: faces replaced by face swapping (found: credentials)"
    data = bytearray(signed.read_bytes())
    data[data.index(b"mdat") + 200] ^= 0xFF  # one byte of the video changed after signing
    signed.write_bytes(bytes(data))
    edited = verifier.verify(signed)
    assert edited["credentials"]["state"] == "Invalid" and edited["verdict"].startswith("no faceswap-lab mark")
    assert "content credentials found: Invalid" in verifier.describe(edited)
