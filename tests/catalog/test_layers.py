"""``catalog`` is the ground floor: none of its modules loads torch, transformer_lens, ``ingest`` or ``app``."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import catalog

REPO = Path(__file__).resolve().parents[2]


def test_catalog_imports_no_torch_no_ingest_no_app():
    modules = sorted(
        f"catalog.{info.name}" for info in pkgutil.iter_modules(catalog.__path__) if info.name != "__main__"
    )
    assert "catalog.connect" in modules and "catalog.api" in modules
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in modules)
        + "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'transformer_lens', 'ingest', 'app'))\n"
        "print(','.join(bad))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"catalog loaded {done.stdout.strip()}"
