"""`facegate enroll DIR`, `facegate people [list|delete|rename]`, `facegate identify IMAGE` and `facegate search
IMAGE`: the gallery from the command line."""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from facegate.cli.common import (
    Subparsers,
    add_aligned_option,
    add_attributes_option,
    add_db_option,
    add_model_option,
    add_operating_point_options,
    open_cli_gallery,
    operating_point,
    positive_int,
)

if TYPE_CHECKING:
    import numpy as np

    from facegate.embed import EmbeddingModel
    from facegate.gallery import Gallery
    from facegate.gallery.batch import IdentifiedPhoto
    from facegate.gallery.enroll import EnrollResult
    from facegate.pipeline import FaceEmbedding


def cmd_enroll(args: argparse.Namespace) -> int:
    """Enroll a folder of people; a per-person summary, and exit 1 when someone is left with no usable sample."""
    from tqdm import tqdm

    from facegate.gallery.enroll import enroll_photo
    from facegate.gallery.folders import person_photos
    from facegate.gallery.search import GalleryVectorIndex
    from facegate.pipeline import FaceGate

    not_photos: list[Path] = []
    photos = person_photos(args.folder, not_photos)
    gallery = open_cli_gallery(args, creates=True)
    # the look-alike check's 1:1 distance: the site's operating point, where an admin stored one
    fg = FaceGate(
        fpir=operating_point(args, gallery).fpir, model=enroll_model(gallery, args.model), aligned=args.aligned
    )
    lookalikes = None if args.allow_lookalike else GalleryVectorIndex(gallery)
    results: dict[str, list[tuple[Path, EnrollResult]]] = {}
    with tqdm(total=sum(len(p) for p in photos.values()), desc="enrolling", unit="photo") as bar:
        for name, paths in photos.items():
            person = gallery.person_by_name(name) or gallery.add_person(name)
            for path in paths:
                results.setdefault(name, []).append(
                    (
                        path,
                        enroll_photo(
                            fg,
                            gallery,
                            person.id,
                            path.read_bytes(),
                            str(path),
                            args.largest,
                            args.min_face,
                            lookalikes,
                        ),
                    )
                )
                bar.update()
    return _enroll_report(gallery, results, not_photos, args.verbose)


def _enroll_report(
    gallery: Gallery, results: dict[str, list[tuple[Path, EnrollResult]]], not_photos: list[Path], verbose: bool
) -> int:
    """Print one line per person (new, already enrolled, refused by reason) and name whoever has no sample."""
    total = sum(len(r) for r in results.values())
    new = sum(r.accepted for rs in results.values() for _, r in rs)
    print(f"enrolled {new} new photo(s) of {total} for {len(results)} people")
    empty = []
    for name, rows in results.items():
        already = sum(r.already for _, r in rows)
        refused = [(path, r) for path, r in rows if not r.accepted and not r.already]
        reasons = Counter(re.sub(r"\d+(\.\d+)?", "N", reason) for _, r in refused for reason in r.reasons)
        stored = len(gallery.samples(gallery.person_by_name(name).id))  # type: ignore[union-attr]
        if not stored:
            empty.append(name)
        why = "; ".join(f"{count} × {reason}" for reason, count in reasons.most_common())
        print(
            f"  {name:30s} {sum(r.accepted for _, r in rows):3d} new, {already:3d} already enrolled, "
            f"{len(refused):3d} refused{': ' + why if why else ''}"
        )
        if verbose:
            for path, r in refused:
                print(f"      {path}: {'; '.join(r.reasons)}")
    for path in not_photos:
        print(f"  skipped {path}: not a picture FaceGate can read")
    if empty:
        print(f"no usable photo for: {', '.join(empty)} (see the reasons above)", file=sys.stderr)
        return 1
    return 0


def cmd_people(args: argparse.Namespace) -> int:
    gallery = open_cli_gallery(args)
    if args.action != "list":
        return _change_person(gallery, args)
    people = gallery.people()
    if args.json:
        print(
            json.dumps(
                [
                    {"id": p.id, "name": p.name, "samples": p.samples, "created_at": p.created_at.isoformat()}
                    for p in people
                ],
                indent=2,
            )
        )
        return 0
    print(f"{len(people)} people")
    for p in people:
        print(f"  {p.id:5d}  {p.name:30s} {p.samples:3d} sample(s)")
    return 0


def _change_person(gallery: Gallery, args: argparse.Namespace) -> int:
    """`people delete ID|NAME [--yes]` and `people rename ID|NAME NEW`: one person changed, or a one-line error."""
    from facegate.errors import FaceGateError
    from facegate.gallery import NotFoundError

    wanted = 1 if args.action == "delete" else 2
    if len(args.args) != wanted:
        raise FaceGateError(f"people {args.action} takes {'ID|NAME' if wanted == 1 else 'ID|NAME NEW-NAME'}")
    target = args.args[0]
    person = gallery.person(int(target)) if target.isdigit() else gallery.person_by_name(target)
    if person is None:
        raise NotFoundError(f"no person named {target!r}")
    if args.action == "rename":
        renamed = gallery.rename_person(person.id, args.args[1])
        print(f"renamed {person.name!r} (id {person.id}) to {renamed.name!r}")
        return 0
    if not (args.yes or _confirmed(f"delete {person.name!r} (id {person.id}) and their {person.samples} sample(s)")):
        return 1
    gallery.delete_person(person.id)
    print(f"deleted {person.name!r} (id {person.id}) with {person.samples} sample(s)")
    return 0


def _confirmed(question: str) -> bool:
    """The user's yes to `question` on the terminal; without a terminal, a FaceGateError asking for --yes."""
    from facegate.errors import FaceGateError

    if not sys.stdin.isatty():
        raise FaceGateError(f"not a terminal: add --yes to {question}")
    return input(f"{question}? [y/N] ").strip().lower() in ("y", "yes")


def enroll_model(gallery: Gallery, wanted: EmbeddingModel | None) -> EmbeddingModel:
    """The model to enroll with: the gallery's own (a FaceGateError when --model names another), else --model,
    else FaceNet."""
    from facegate.errors import FaceGateError

    held = gallery.model()
    if held is not None and wanted not in (None, held):
        raise FaceGateError(
            f"the gallery holds {held} embeddings; a gallery keeps to one model (embeddings of "
            f"different models cannot be compared): enroll with --model {held}, or into another --db"
        )
    return held or wanted or "facenet"


def faces_of(image: Path, gallery: Gallery) -> tuple[list[FaceEmbedding], np.ndarray]:
    """Every face of the photo, largest first, and their embeddings (with the gallery's model) as one N×D array."""
    import numpy as np

    from facegate.pipeline import FaceGate

    fg = FaceGate(model=enroll_model(gallery, None))
    found = fg.represent(image)
    return found, np.stack([f.embedding for f in found]) if found else np.zeros((0, fg.dim), np.float32)


def rounded_box(face: FaceEmbedding) -> list[float]:
    """The face's box to 0.1 px, as a JSON list."""
    from facegate.detect.base import as_box

    return list(as_box(face.face.box, 1))


def cmd_identify(args: argparse.Namespace) -> int:
    """Who is in each photo: every face of every file and folder given, with the models loaded once."""
    from facegate.gallery.batch import identify_photos, photos_from
    from facegate.gallery.identify import GalleryIdentifier
    from facegate.gallery.operating import configured
    from facegate.pipeline import FaceGate

    identifier = GalleryIdentifier(open_cli_gallery(args), configured(args.fpir))
    fitted, point = identifier.current(), identifier.point  # --fpir, else the gallery's stored point, else the setting
    threshold = None if fitted.threshold is None else round(fitted.threshold, 3)
    fg = FaceGate(
        fpir=point.fpir, model=enroll_model(identifier.gallery, None), attributes=args.attributes, aligned=args.aligned
    )
    photos = identify_photos(fg, identifier, photos_from(args.images))
    if args.json:
        print(
            json.dumps(
                {
                    "identifier": fitted.kind,
                    "operating_point": {"fpir": point.fpir, "source": point.source, "threshold": threshold},
                    "photos": [_photo_json(photo) for photo in photos],
                },
                indent=2,
            )
        )
    elif args.csv:
        _write_csv(photos)
    else:
        print(f"{fitted.kind}; unknown beyond distance {threshold} ({point})", file=sys.stderr)
        for photo in photos:
            _print_photo(photo)
    return 0


def _photo_json(photo: IdentifiedPhoto) -> dict[str, Any]:
    """One photo as JSON: its faces, or the error that kept it from being read."""
    if photo.error is not None:
        return {"image": str(photo.path), "error": photo.error}
    return {"image": str(photo.path), "faces": [asdict(face) for face in photo.faces]}


def _write_csv(photos: Iterable[IdentifiedPhoto]) -> None:
    """One CSV row per face (a photo without faces or that failed gets one row saying so)."""
    out = csv.writer(sys.stdout)
    out.writerow(["image", "face", "x1", "y1", "x2", "y2", "name", "person_id", "probability", "distance", "error"])
    for photo in photos:
        if photo.error is not None or not photo.faces:
            out.writerow([photo.path, "", "", "", "", "", "", "", "", "", photo.error or "no face"])
        for i, face in enumerate(photo.faces, 1):
            out.writerow([photo.path, i, *face.box, face.name, face.person_id, face.probability, face.distance, ""])


def _print_photo(photo: IdentifiedPhoto) -> None:
    """A photo's faces as lines a person reads."""
    if photo.error is not None:
        print(f"{photo.path}: {photo.error}")
        return
    print(f"{photo.path}: {len(photo.faces)} face(s)")
    for i, face in enumerate(photo.faces, 1):
        known = f" probability={face.probability}" if face.probability is not None else ""
        said = f" age={face.age:.0f} {face.gender} ({face.gender_probability:.2f})" if face.gender else ""
        print(f"  {i}. {face.name:20s} box={list(face.box)} distance={face.distance}{known}{said}")


def cmd_search(args: argparse.Namespace) -> int:
    """The enrolled samples (or, with --index, the archive's faces) most like each face of the photo."""
    from facegate.match.operating_point import verify_threshold

    gallery = None if args.index or args.index_db else open_cli_gallery(args)
    threshold = verify_threshold(operating_point(args, gallery).fpir)  # a gallery's stored point, where it has one
    found, where, hits = _archive_hits(args) if gallery is None else _gallery_hits(args, gallery)
    rows: list[dict[str, Any]] = [
        {
            "box": rounded_box(f),
            "matches": [
                {**m, "distance": round(m["distance"], 3), "same_person": m["distance"] <= threshold} for m in face_hits
            ],
        }
        for f, face_hits in zip(found, hits)
    ]
    if args.json:
        print(
            json.dumps(
                {"image": str(args.image), "searched": where, "threshold": round(threshold, 3), "faces": rows}, indent=2
            )
        )
        return 0
    print(f"{args.image}: {len(rows)} face(s), {where} searched; same person up to distance {threshold:.3f}")
    for i, r in enumerate(rows, 1):
        print(f"  {i}. box={r['box']}")
        for rank, m in enumerate(r["matches"], 1):
            mark = "same person" if m["same_person"] else ""
            print(f"     {rank}. {m['where']:50s} distance {m['distance']:.3f}  {mark}")
    return 0


Hits = tuple[list["FaceEmbedding"], str, list[list[dict[str, Any]]]]  # the photo's faces, what was searched, matches


def _gallery_hits(args: argparse.Namespace, gallery: Gallery) -> Hits:
    """The nearest enrolled samples, each with its person and the photo it was enrolled from."""
    from facegate.gallery.search import GalleryVectorIndex

    found, embeddings = faces_of(args.image, gallery)
    index = GalleryVectorIndex(gallery)
    hits = index.search(embeddings, args.top)
    files = {h.sample_id: gallery.sample(h.sample_id).filename for face in hits for h in face if h.person}
    return (
        found,
        f"{len(index.index)} enrolled sample(s)",
        [
            [
                {
                    "person": h.person,
                    "person_id": h.person_id,
                    "sample_id": h.sample_id,
                    "photo": files.get(h.sample_id),
                    "where": f"{h.person} ({files.get(h.sample_id)}, sample {h.sample_id})",
                    "distance": h.distance,
                }
                for h in face
            ]
            for face in hits
        ],
    )


def _archive_hits(args: argparse.Namespace) -> Hits:
    """The nearest faces of an archive index (`facegate index`, FaceNet embeddings): which photo, face, where."""
    import numpy as np

    from facegate.archive.search import ArchiveFaces
    from facegate.archive.store import open_store
    from facegate.pipeline import FaceGate

    faces = ArchiveFaces.read(open_store(args.index, args.index_db))
    found = FaceGate().represent(args.image)
    embeddings = np.stack([f.embedding for f in found]) if found else np.zeros((0, faces.dim), np.float32)
    hits = faces.search(embeddings, args.top)
    return (
        found,
        f"{len(faces.paths)} indexed face(s)",
        [
            [
                {
                    "photo": h.path,
                    "face": h.face,
                    "box": list(h.box),
                    "where": f"{h.path} (face {h.face + 1})",
                    "distance": h.distance,
                }
                for h in face
            ]
            for face in hits
        ],
    )


def register(subparsers: Subparsers) -> None:
    """Add enroll, people, identify and search to the `facegate` command."""
    enroll = subparsers.add_parser(
        "enroll", help="enroll photos: one sub-folder per person, or files named after the person"
    )
    enroll.add_argument("folder", type=Path)
    enroll.add_argument("--largest", action="store_true", help="enroll the largest face of group photos")
    enroll.add_argument("-v", "--verbose", action="store_true", help="list every refused photo with its reasons")
    enroll.add_argument(
        "--allow-lookalike",
        action="store_true",
        help="enroll faces that match another enrolled person (twins, look-alikes): they are refused "
        "by default, so one person is not enrolled under two names",
    )
    enroll.add_argument(
        "--min-face",
        type=positive_int,
        metavar="PX",
        help="smallest face side accepted, in pixels (default: $FACEGATE_ENROLL_MIN_FACE, else 40)",
    )
    add_model_option(enroll, gallery=True)
    add_aligned_option(enroll)
    add_db_option(enroll)
    people = subparsers.add_parser(
        "people",
        help="list, delete or rename enrolled people",
        usage="facegate people [list] [--json] | delete ID|NAME [--yes] | rename ID|NAME NEW",
    )
    people.add_argument(
        "action",
        nargs="?",
        choices=("list", "delete", "rename"),
        default="list",
        help="list (the default); delete a person with every sample; rename a person",
    )
    people.add_argument("args", nargs="*", metavar="ID|NAME", help="who to delete or rename (and the new name)")
    people.add_argument("--yes", action="store_true", help="delete without asking")
    people.add_argument("--json", action="store_true", help="list as JSON")
    add_db_option(people)
    identify = subparsers.add_parser("identify", help="who is in the photos? (every face, or unknown)")
    identify.add_argument(
        "images",
        type=Path,
        nargs="+",
        metavar="PHOTO|FOLDER",
        help="photos, and folders searched for photos at any depth",
    )
    output = identify.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="one JSON document: every photo with its faces")
    output.add_argument("--csv", action="store_true", help="one CSV row per face")
    add_operating_point_options(identify)
    add_attributes_option(identify)
    add_aligned_option(identify)
    add_db_option(identify)
    search = subparsers.add_parser(
        "search", help="the enrolled samples (or an archive's faces) most like each face in the photo"
    )
    search.add_argument("image", type=Path)
    search.add_argument("--top", type=positive_int, default=5, metavar="K", help="matches per face (default: 5)")
    archive = search.add_mutually_exclusive_group()
    archive.add_argument(
        "--index",
        type=Path,
        metavar="INDEX_DIR",
        help="search a Parquet index from `facegate index --out` instead of the gallery",
    )
    archive.add_argument("--index-db", metavar="URL", help="search the photo_index of `facegate index --db URL`")
    search.add_argument("--json", action="store_true")
    add_operating_point_options(search)
    add_db_option(search)
    for parser, handler in ((enroll, cmd_enroll), (people, cmd_people), (identify, cmd_identify), (search, cmd_search)):
        parser.set_defaults(handler=handler)
