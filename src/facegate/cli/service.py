"""`facegate keys create|list|delete` and `facegate serve`: API keys and the gate service."""

from __future__ import annotations

import argparse
import sys

from facegate.cli.common import Subparsers, add_db_option, positive_int
from facegate.extras import require


def cmd_keys(args: argparse.Namespace) -> int:
    from facegate.api.auth import create_key
    from facegate.gallery import open_gallery

    gallery = open_gallery(args.db)
    if args.keys_command == "create":
        key, info = create_key(gallery, args.role, args.name)
        print(key)
        print(
            f"facegate: {info.role} key {info.name!r} (id {info.id}) created; it is shown only this once",
            file=sys.stderr,
        )
    elif args.keys_command == "list":
        for k in gallery.keys():
            print(f"  {k.id:4d}  {k.role:7s} {k.name:30s} {k.prefix}…  {k.created_at:%Y-%m-%d %H:%M}")
    else:
        gallery.delete_key(args.id)
        print(f"deleted key {args.id}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    require("server", "fastapi", "uvicorn", "python_multipart", "fastapi_offline", what="`facegate serve`")
    import uvicorn

    from facegate.api.app import Settings, create_app
    from facegate.gallery import open_gallery

    open_gallery(args.db)  # migrate (and fail with a clear message) before the server starts
    limits = {} if args.max_upload_mb is None else {"max_upload_bytes": args.max_upload_mb * 1024 * 1024}
    settings = Settings(db=args.db, **limits) if args.db else Settings(**limits)
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level=args.log_level)
    return 0


def register(subparsers: Subparsers) -> None:
    """Add keys and serve to the `facegate` command."""
    keys = subparsers.add_parser("keys", help="API keys for the gate service")
    ksub = keys.add_subparsers(dest="keys_command", required=True)
    create = ksub.add_parser("create", help="create a key and print it (once)")
    create.add_argument("--role", choices=["admin", "gate", "viewer"], required=True)
    create.add_argument("--name", help="a unique name; a gate key's name is the gate id in access events")
    add_db_option(create)
    listing = ksub.add_parser("list", help="list keys (never the keys themselves)")
    add_db_option(listing)
    delete = ksub.add_parser("delete", help="delete (revoke) a key")
    delete.add_argument("id", type=int)
    add_db_option(delete)
    serve = subparsers.add_parser("serve", help="run the gate service: REST API (/docs) and web page (/)")
    add_db_option(serve)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--max-upload-mb",
        type=positive_int,
        metavar="MB",
        help="size limit per image (default: $FACEGATE_MAX_UPLOAD_MB, else 10)",
    )
    serve.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    keys.set_defaults(handler=cmd_keys)
    serve.set_defaults(handler=cmd_serve)
