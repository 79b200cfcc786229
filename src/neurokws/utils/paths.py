"""Where this checkout is: the workflow runs the package from its source tree (`pip install
-e .`), so the config schema, the recipes in envs/ and the side venvs are found from here."""

from __future__ import annotations

from pathlib import Path

SRC_DIR = Path(__file__).resolve().parents[2]
REPO_ROOT = SRC_DIR.parent
