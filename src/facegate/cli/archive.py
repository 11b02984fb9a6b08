"""The `facegate index` subcommand (wired into the CLI by `register`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from facegate.archive import ArchiveError
from facegate.cli.common import Subparsers
from facegate.extras import require


def cmd_index(args: argparse.Namespace) -> int:
    require("scale", "ray", "pyarrow", what="`facegate index`")
    from facegate.archive.index import index_archive
    from facegate.archive.store import open_store

    if (args.workers is not None and args.workers < 1) or args.batch_size < 1:
        raise ArchiveError("--workers and --batch-size must be at least 1")
    store = open_store(args.out, args.db)
    summary = index_archive(args.dir, store, workers=args.workers, batch_size=args.batch_size, ray_address=args.ray)
    rate = f" ({summary.photos / summary.seconds:.1f} photos/s)" if summary.photos else ""
    print(
        f"indexed {summary.photos} photos in {summary.seconds:.1f} s{rate}: {summary.faces} faces, "
        f"{summary.no_face} without a face, {sum(summary.failures.values())} failed; "
        f"{summary.skipped} skipped (already indexed) → {store.location}"
    )
    for reason, count in sorted(summary.failures.items()):
        print(f"  failed, {reason}: {count}")
    for example in summary.examples:
        print(f"    {example}")
    return 0


def register(sub: Subparsers) -> None:
    """Add the `index` parser."""
    index = sub.add_parser(
        "index",
        help="embed every face of a photo archive in parallel (Ray), resumably, into Parquet or the gallery database",
    )
    index.add_argument("dir", type=Path, help="photo folder (searched at any depth)")
    out = index.add_mutually_exclusive_group(required=True)
    out.add_argument("--out", type=Path, metavar="PARQUET_DIR", help="Parquet dataset folder (each run adds parts)")
    out.add_argument(
        "--db", metavar="URL", help="gallery database (a SQLite file or postgresql://…): table photo_index"
    )
    index.add_argument(
        "--ray", metavar="ADDRESS", help="join a running Ray cluster ('auto' or HOST:PORT; default: start a local one)"
    )
    index.add_argument(
        "--workers", type=int, metavar="N", help="worker actors, one CPU and one pipeline each (default: one per CPU)"
    )
    index.add_argument("--batch-size", type=int, default=16, metavar="B", help="photos per worker call (default 16)")
    index.set_defaults(handler=cmd_index)
