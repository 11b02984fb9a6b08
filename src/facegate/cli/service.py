"""`facegate keys create|list|delete` and `facegate serve`: API keys and the gate service."""

from __future__ import annotations

import argparse
import shlex
from typing import TYPE_CHECKING

from facegate.cli.common import Subparsers, add_db_option, open_cli_gallery, positive_int, say
from facegate.extras import require

if TYPE_CHECKING:
    from facegate.gallery import Gallery

# the roles and what each may do (facegate.api.auth.PERMISSIONS, repeated: `facegate --help` imports no server code)
IDENTIFYING_ROLES = ("admin", "gate")
ROLES = ("admin", "gate", "viewer")


def cmd_keys(args: argparse.Namespace) -> int:
    from facegate.api.auth import create_key

    gallery = open_cli_gallery(args, creates=args.keys_command == "create")
    if args.keys_command == "create":
        key, info = create_key(gallery, args.role, args.name, args.gate)
        print(key)
        at = f" at gate {info.gate_name!r}" if info.role in IDENTIFYING_ROLES else ""
        say(f"{info.role} key {info.name!r} (id {info.id}){at} created; it is shown only this once")
    elif args.keys_command == "list":
        for k in gallery.keys():
            gate = f"  gate {k.gate_name!r}" if k.role in IDENTIFYING_ROLES else ""
            print(f"  {k.id:4d}  {k.role:7s} {k.name:30s} {k.prefix}…  {k.created_at:%Y-%m-%d %H:%M}{gate}")
    else:
        gallery.delete_key(args.id)
        print(f"deleted key {args.id}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    require("server", "fastapi", "uvicorn", "python_multipart", "fastapi_offline", what="`facegate serve`")
    import uvicorn

    from facegate.api.app import Settings, create_app

    gallery = open_cli_gallery(args)  # migrate (and fail with a clear message) before the server starts
    for line in startup_lines(gallery, args.host, args.port, args.db):
        say(line)
    limits = {} if args.max_upload_mb is None else {"max_upload_bytes": args.max_upload_mb * 1024 * 1024}
    settings = Settings(db=args.db, **limits) if args.db else Settings(**limits)
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level=args.log_level)
    return 0


def startup_lines(gallery: Gallery, host: str, port: int, db: str | None = None) -> list[str]:
    """What `serve` says before it starts: the page's address, the database, the operating point in force and where
    it comes from, and whether any key can sign in."""
    from facegate.gallery.operating import configured, in_force

    local = host in ("127.0.0.1", "localhost", "::1")
    shown = "localhost" if host in ("0.0.0.0", "::") else host
    lines = [
        f"web page and REST API at http://{shown if ':' not in shown else f'[{shown}]'}:{port}/ (API docs at /docs)",
        f"gallery database: {gallery.engine.url.render_as_string()}",
    ]
    if not local:
        lines.append(
            "browsers allow the camera only on https:// (or on this machine): put a TLS reverse proxy in front for "
            "cameras elsewhere (README: Deploying a gate)"
        )
    lines.append(
        f"operating point: {in_force(configured(), gallery.operating_point())}; an admin sets it for every server "
        "sharing this gallery (page: Settings, or PUT /operating-point; DELETE goes back to FACEGATE_FPIR, else 0.001)"
    )
    keys = gallery.keys()
    if keys:
        roles = ", ".join(f"{sum(k.role == r for k in keys)} {r}" for r in ROLES if any(k.role == r for k in keys))
        lines.append(f"API keys: {roles}")
    else:
        lines.append(
            "no API key yet: nothing can sign in. Create one with: "
            "facegate keys create --role admin --name NAME" + (f" --db {shlex.quote(db)}" if db else "")
        )
    return lines


def register(subparsers: Subparsers) -> None:
    """Add keys and serve to the `facegate` command."""
    keys = subparsers.add_parser("keys", help="API keys for the gate service")
    ksub = keys.add_subparsers(dest="keys_command", required=True)
    create = ksub.add_parser("create", help="create a key and print it (once)")
    create.add_argument("--role", choices=ROLES, required=True)
    create.add_argument("--name", help="a unique name for the key")
    create.add_argument(
        "--gate",
        help="the gate whose access events this key's identifications make; several keys may share one gate "
        "(admin and gate keys; default: the key's name)",
    )
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
