"""The `facegate` command: one module per command group, each adding its parsers with a `handler` default.

Every user error ends in one clear line on stderr and a non-zero exit. Nothing outside this package imports it,
and it imports the heavy stages (ONNX Runtime, OpenCV, scikit-learn) only inside handlers, so `--help` is quick.
"""

from __future__ import annotations

import argparse
import logging
import sys

from facegate import __version__
from facegate.cli import archive, benchmark, experiment, faces, gallery, models, service, video
from facegate.errors import FaceGateError

GROUPS = (models, faces, gallery, service, video, experiment, benchmark, archive)


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: every group's subcommands under one parser."""
    parser = argparse.ArgumentParser(prog="facegate", description="Face recognition: detect, embed, verify, identify.")
    parser.add_argument("--version", action="version", version=f"facegate {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.register(sub)
    return parser


class _StderrHandler(logging.Handler):
    """Writes each message to sys.stderr as it is when the message comes, not as it was when the handler was made
    (a caller running several commands in one process may redirect stderr between them)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            print(self.format(record), file=sys.stderr)
        except Exception:
            self.handleError(record)


def _show_library_messages() -> None:
    """The library logs; the command shows its progress and warnings on stderr as `facegate: …` lines."""
    logger = logging.getLogger("facegate")
    if not logger.handlers:
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("facegate: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


def main(argv: list[str] | None = None) -> int:
    """Run one command; FaceGate's own errors become one line and exit 2, Ctrl-C exits 130."""
    args = build_parser().parse_args(argv)
    _show_library_messages()
    try:
        return int(args.handler(args))
    except FaceGateError as exc:
        print(f"facegate: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("facegate: interrupted", file=sys.stderr)
        return 130
