"""Two local fixes that let lava-nc 0.10.0 / lava-dl 0.6.0 import on Python 3.11.

Run with the Lava venv's own interpreter (setup_lava_env.sh does it); idempotent.

1. lava/magma/compiler/var_model.py gives dataclass fields the mutable default
   ``ByteEncoder()``; Python >= 3.11 rejects that at import time ("mutable default ... use
   default_factory"). We switch those fields to ``field(default_factory=ByteEncoder)``,
   which is what the default meant (each instance gets its own encoder).
2. lava.lib.dl.slayer imports torchvision (only its object-detection helpers use it, inside
   functions); PyPI's torchvision wheels do not import beside the CPU torch 2.13 used here.
   An empty ``torchvision`` package with ``ops`` and ``transforms`` modules satisfies the
   import; netx never touches it.
"""

from __future__ import annotations

import sys
import sysconfig
from pathlib import Path

SITE = Path(sysconfig.get_paths()["purelib"])
VAR_MODEL = SITE / "lava" / "magma" / "compiler" / "var_model.py"
OLD_IMPORT = "from dataclasses import dataclass, InitVar\n"
NEW_IMPORT = "from dataclasses import dataclass, field, InitVar\n"
OLD_DEFAULT = ": ByteEncoder = ByteEncoder()"
NEW_DEFAULT = ": ByteEncoder = field(default_factory=ByteEncoder)"
EXPECTED_FIELDS = 8   # x, y, p / x, y, z / hi, lo in lava-nc 0.10.0
STUB_NOTE = '"""Empty stand-in for torchvision (neurokws envs/lava/fixups.py); never used."""\n'


def patch_var_model() -> str:
    """Replace the mutable dataclass defaults in var_model.py; return what was done."""
    if not VAR_MODEL.is_file():
        raise SystemExit(f"fixups: {VAR_MODEL} not found - is lava-nc 0.10.0 installed?")
    text = VAR_MODEL.read_text()
    if OLD_DEFAULT not in text and NEW_DEFAULT in text:
        return "var_model.py already patched"
    count = text.count(OLD_DEFAULT)
    if text.count(OLD_IMPORT) != 1 or count != EXPECTED_FIELDS:
        raise SystemExit(f"fixups: {VAR_MODEL} does not look like lava-nc 0.10.0's "
                         f"(import line found {text.count(OLD_IMPORT)}x, defaults {count}x)")
    text = text.replace(OLD_IMPORT, NEW_IMPORT).replace(OLD_DEFAULT, NEW_DEFAULT)
    VAR_MODEL.write_text(text)
    return f"var_model.py: {count} ByteEncoder defaults -> default_factory"


def write_torchvision_stub() -> str:
    """Create site-packages/torchvision/{__init__,ops,transforms}.py unless a real one exists."""
    package = SITE / "torchvision"
    init = package / "__init__.py"
    if init.is_file() and init.read_text() != STUB_NOTE:
        return "a real torchvision is installed; no stub written"
    package.mkdir(exist_ok=True)
    for name in ("__init__", "ops", "transforms"):
        (package / f"{name}.py").write_text(STUB_NOTE)
    return "torchvision stub written"


def main() -> None:
    """Apply both fixes and report."""
    for message in (patch_var_model(), write_torchvision_stub()):
        print(f"fixups: {message}", file=sys.stderr)


if __name__ == "__main__":
    main()
