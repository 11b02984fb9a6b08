"""Where a checkout's shared data lies (../shared/data beside the project); benchmarks read LFW from there unless
$FACEGATE_LFW names another folder."""

from __future__ import annotations

import os
from pathlib import Path

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
os.environ.setdefault("FACEGATE_LFW", str(SHARED_DATA / "lfw"))
