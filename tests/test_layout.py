"""The package's shape: the CLI sits on top (nothing imports it), and `facegate --help` loads no heavy stage."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import facegate

PACKAGE = Path(facegate.__file__).resolve().parent


def imported_modules(path: Path) -> set[str]:
    """Every module a source file imports, at any depth (deferred imports inside functions included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_no_module_outside_the_cli_imports_it() -> None:
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(n for n in imported_modules(path) if n.startswith("facegate.cli"))
        for path in PACKAGE.rglob("*.py")
        if PACKAGE / "cli" not in path.parents and path.name != "__main__.py"
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_domain_packages_never_import_the_web_layer() -> None:
    domain = [p for p in PACKAGE.rglob("*.py") if not {PACKAGE / "cli", PACKAGE / "api"} & set(p.parents)]
    assert len(domain) > 40
    offenders = [
        str(p.relative_to(PACKAGE))
        for p in domain
        if any(n.startswith(("facegate.api", "fastapi", "uvicorn")) for n in imported_modules(p))
    ]
    assert offenders == []


def test_help_imports_no_heavy_stage() -> None:
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "facegate", "--help"], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0 and "usage: facegate" in run.stdout
    loaded = {line.rsplit("|", 1)[-1].strip() for line in run.stderr.splitlines() if line.startswith("import time:")}
    assert "facegate.cli" in loaded
    assert not loaded & {"sklearn", "onnxruntime", "cv2", "torch", "fastapi", "ray", "faiss", "av", "matplotlib"}
