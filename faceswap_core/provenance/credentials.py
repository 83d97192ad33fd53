"""C2PA Content Credentials: a signed statement inside the MP4 that its faces were swapped.
Taught in chapter 09.

`sign` adds a C2PA manifest to a converted video (action ``c2pa.edited``, digital source type
``trainedAlgorithmicMedia``, the source video as ``parentOf`` ingredient); `read` checks and summarises it.
The manifest is bound to the file's bytes by a hash: any edit shows as ``Invalid``, and a re-encode or remux
drops it entirely, so unlike the watermark it proves who said what but does not survive re-publishing.
Signing uses `local_identity`, a local test CA and signer made on first use: no one else trusts it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

from .. import __version__
from ..errors import FaceswapError
from ..files import AtomicPath, lock, write_atomic
from ..workspace import keys_dir

try:
    import c2pa
except ImportError:  # a project dependency; without it `sign` refuses and `read` finds nothing
    c2pa = None

FILES = ("chain.pem", "signer.key", "root.pem")  # leaf + root certificates, the leaf's private key, the root
# IPTC: made by a trained model
AI_SOURCE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
# ... or composited with such media
AI_SOURCES = {AI_SOURCE, AI_SOURCE.replace("trained", "compositeWithTrained")}
AGENT = {"name": "faceswap-lab", "version": __version__}
MP4, MISSING = "video/mp4", "c2pa-python not installed"
_short = lambda e: " ".join(str(e).split())[:160] or type(e).__name__  # an error in one line


def _make_identity() -> tuple[bytes, bytes, bytes]:
    """A new root CA and a leaf signer (ES256, P-256) with the extensions c2pa-rs requires of a signer."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.timezone.utc)
    name = lambda cn: x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "faceswap-lab TEST identity"),
                                 x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    rk, lk = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())

    def cert(subject, key, days, ca: bool):
        b = (x509.CertificateBuilder().subject_name(name(subject))
             .issuer_name(name("faceswap-lab test root CA"))
             .public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=days))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
             .add_extension(x509.KeyUsage(not ca, False, False, False, False, ca, ca, False, False),
                            critical=True)
             .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
        if not ca:  # a leaf must name its issuer's key and a C2PA-accepted purpose (emailProtection)
            b = (b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(rk.public_key()),
                                 critical=False)
                 .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]),
                                critical=False))
        return b.sign(rk, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)

    root, leaf = (cert("faceswap-lab test root CA", rk, 3650, True),
                  cert("faceswap-lab test signer", lk, 1825, False))
    return leaf + root, lk.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()), root


def _load(folder: Path) -> tuple[bytes, bytes, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    data, what = [], {}
    for f in FILES:
        try:
            data.append((folder / f).read_bytes())
            what[f] = (serialization.load_pem_private_key(data[-1], None) if f.endswith(".key")
                       else x509.load_pem_x509_certificates(data[-1]))
        except (OSError, ValueError, TypeError) as e:
            why = getattr(e, "strerror", None) or str(e).splitlines()[0][:60]
            raise FaceswapError(f"{folder / f}: damaged or unreadable ({why}); delete it (and the rest of "
                                f"{folder}) to make a new test identity") from None
    leaf = what["chain.pem"][0]
    if leaf.public_key() != what["signer.key"].public_key():
        raise FaceswapError(f"{folder / 'signer.key'}: does not match {folder / 'chain.pem'}; "
                            f"delete {folder} to make a new test identity")
    if leaf.not_valid_after_utc < dt.datetime.now(dt.timezone.utc):
        raise FaceswapError(f"{folder / 'chain.pem'}: the test signer has expired; "
                            f"delete {folder} to make a new one")
    return data[0], data[1], data[2]


def local_identity(folder: str | os.PathLike = keys_dir("data")) -> tuple[bytes, bytes, bytes]:
    """(chain_pem, key_pem, root_pem) of the local TEST signing identity kept in `folder`
    (``<workspace>/keys``), made on first use and reused after. It is a test identity that no one else
    trusts: a verifier reports its signature Valid (the file is as signed) but not Trusted unless given
    `root_pem` as a trust anchor. A real publisher would sign with a certificate from a C2PA-recognised CA."""
    folder = Path(folder)
    if (folder / "signer.key").exists():
        return _load(folder)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    with lock(folder, "the test signing identity"):
        if (folder / "signer.key").exists():  # made by another process meanwhile
            return _load(folder)
        chain, key, root = _make_identity()
        write_atomic(folder / "chain.pem", chain)
        write_atomic(folder / "root.pem", root)
        target = AtomicPath(folder / "signer.key", overwrite=True)  # mkstemp's temp is already 0600
        try:
            target.tmp.write_bytes(key)
            os.replace(target.tmp, target.final)  # not commit(): that gives the usual, readable mode
        finally:
            target.discard()
    return chain, key, root


def _is_bmff(path: Path) -> bool:
    """MP4/MOV files start with an ``ftyp`` box: the only video containers C2PA is embedded in here."""
    with open(path, "rb") as f:
        return f.read(8)[4:8] == b"ftyp"


def sign(video: str | os.PathLike, *, parent: str | os.PathLike, identity: tuple[bytes, bytes, bytes],
         description: str = "faces replaced by face swapping") -> Path:
    """Add Content Credentials to the MP4 `video` in place (atomically: on failure it is left untouched):
    ``c2pa.edited`` by faceswap-lab with a trained-algorithm source, `parent` as the ``parentOf`` ingredient,
    signed with `identity` (see `local_identity`)."""
    video, parent = Path(video), Path(parent)
    if c2pa is None:
        raise FaceswapError(f"{video}: cannot sign content credentials: {MISSING}; pip install c2pa-python")
    for p in (video, parent):
        if not p.is_file():
            raise FaceswapError(f"{p}: no such file; check the path")
    if not _is_bmff(video):
        raise FaceswapError(f"{video}: not an MP4; content credentials are signed into MP4 files only")
    manifest = {
        "claim_generator_info": [AGENT], "title": video.name,
        "assertions": [{"label": "c2pa.actions.v2", "data": {"actions": [
            {"action": "c2pa.edited", "digitalSourceType": AI_SOURCE, "description": description,
             "softwareAgent": AGENT}]}}],
    }
    hashed = _is_bmff(parent)
    if not hashed:  # a container C2PA cannot read here (MKV, WebM, ...): named, not hashed
        manifest["ingredients"] = [{"title": parent.name, "format": "application/octet-stream",
                                    "relationship": "parentOf"}]
    chain, key, _ = identity
    target = AtomicPath(video, overwrite=True)
    try:
        signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, chain, key, None))
        with (signer, c2pa.Builder(manifest) as builder, open(video, "rb") as src,
              open(target.tmp, "w+b") as dst):
            # adds c2pa.opened of the parent, as C2PA requires
            builder.set_intent(c2pa.C2paBuilderIntent.EDIT)
            if hashed:  # hashed, and its own credentials (if any) carried over
                with open(parent, "rb") as s:
                    builder.add_ingredient({"title": parent.name, "relationship": "parentOf"}, MP4, s)
            builder.sign(signer, MP4, src, dst)
        return target.commit()
    except c2pa.C2paError as e:
        raise FaceswapError(f"{video}: signing content credentials failed ({_short(e)}); "
                            "check the video and the signing identity") from None
    finally:
        target.discard()


def _summary(store: dict, state: str | None) -> dict:
    m = store.get("manifests", {}).get(store.get("active_manifest"), {})
    actions = [a for x in m.get("assertions", []) if str(x.get("label", "")).startswith("c2pa.actions")
               for a in x.get("data", {}).get("actions", [])]
    main = next((a for a in actions if a.get("digitalSourceType")), actions[-1] if actions else {})
    gen = " ".join(str(v) for k, v in (m.get("claim_generator_info") or [{}])[0].items()
                   if k in ("name", "version"))
    sig = m.get("signature_info", {})
    failures = store.get("validation_results", {}).get("activeManifest", {}).get("failure", [])
    return {"found": True, "state": state, "claim_generator": gen or m.get("claim_generator"),
            "actions": [a.get("action") for a in actions], "description": main.get("description"),
            "digital_source_type": main.get("digitalSourceType"),
            "says_swapped": any(a.get("action") in ("c2pa.edited", "c2pa.created")
                                and a.get("digitalSourceType") in AI_SOURCES for a in actions),
            "failures": [f.get("code") for f in failures],
            "signer": sig.get("common_name") or sig.get("issuer"), "issuer": sig.get("issuer")}


def read(video: str | os.PathLike, trust: bytes | None = None) -> dict:
    """The Content Credentials of an MP4: found, state (``Valid``: intact as signed; ``Trusted``: also signed
    by a certificate chaining to `trust`, a PEM root; ``Invalid``: changed since), what its actions say
    (``says_swapped``: edited or created by a trained algorithm), the validation failure codes and the
    signer. No manifest (or not an MP4) gives ``found`` False, with a ``note`` saying why when there is
    one."""
    video = Path(video)
    empty = {"found": False, "state": None, "claim_generator": None, "actions": [], "description": None,
             "digital_source_type": None, "says_swapped": False, "failures": [], "signer": None,
             "issuer": None}
    if not video.is_file():
        raise FaceswapError(f"{video}: no such file; check the path")
    if c2pa is None:
        return empty | {"note": MISSING}
    if not _is_bmff(video):
        return empty | {"note": "not an MP4 (content credentials are read from MP4 files only)"}
    settings = ({"verify": {"verify_trust": True}}
                | ({"trust": {"user_anchors": trust.decode()}} if trust else {}))
    try:
        with (c2pa.Context(c2pa.Settings.from_dict(settings)) as ctx, open(video, "rb") as f,
              c2pa.Reader(MP4, f, context=ctx) as r):
            return _summary(json.loads(r.json()), r.get_validation_state())
    except c2pa.C2paError.ManifestNotFound:
        return empty
    except c2pa.C2paError as e:
        return empty | {"note": f"unreadable: {_short(e)}"}


__all__ = ["AI_SOURCES", "local_identity", "read", "sign"]
