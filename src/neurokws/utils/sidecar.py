"""Side environments: named venvs that run one module of this package and hand back a result.

Lava (lava-nc 0.10 pins Python < 3.11 and numpy < 2), Norse (NIR cross-check), Spyx (the
Figure 3 BPTT baseline) and GeNN/mlGeNN (not on PyPI) cannot share the main venv, so each
lives in its own venv beside it. This module is the one home of what that takes:

- `ENVS`: each side environment's folder (`.venv-<name>` in the checkout, or
  `$NEUROKWS_<NAME>_VENV`), its stamp file (written by the recipe once the venv passed its
  import check), its recipe files (`envs/<name>/`) and the command that builds it. The
  Makefile (`make-vars`, below) and the workflow rules take the paths from here.
- `run_module(env, module, request, arrays)`: runs `python -m neurokws.utils.sidecar
  <module> <dir>` in that venv's interpreter (or this one for env=None). The child imports
  `module` and calls its `sidecar_main(request, arrays)`, which returns a JSON-ready dict
  and optionally a dict of numpy arrays. One result channel (result.json + result.npz in
  a temporary folder) and one error type, `SidecarError`, carrying the child's traceback
  and the end of its stderr; `SidecarUnavailableError` (a SidecarError) when the venv is
  missing, with the command that creates it.

The child side imports only the standard library and numpy, so it runs in every side venv.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neurokws.utils.errors import NeurokwsError
from neurokws.utils.paths import REPO_ROOT, SRC_DIR

CHILD = "neurokws.utils.sidecar"
REQUEST, RESULT, ERROR = "request", "result", "error"


@dataclass(frozen=True)
class SideEnv:
    """One side venv: where it lives, how it is built, what it is for."""

    name: str
    purpose: str
    recipe: tuple[str, ...]          # files (repo-relative) whose content defines the venv
    build_vars: tuple[str, ...] = ()  # environment variables the build needs (GENN_SRC, ...)

    @property
    def setup_script(self) -> str:
        """The recipe's entry point, `envs/<name>/setup_<name>_env.sh`."""
        return self.recipe[0]

    @property
    def path(self) -> Path:
        """The venv folder: $NEUROKWS_<NAME>_VENV, else <checkout>/.venv-<name>."""
        return Path(os.environ.get(f"NEUROKWS_{self.name.upper()}_VENV",
                                   REPO_ROOT / f".venv-{self.name}"))

    @property
    def stamp(self) -> Path:
        """Written by the recipe after the venv passed its import check."""
        return self.path / f".neurokws-{self.name}-stamp"

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    def ready(self) -> bool:
        """True if the venv exists and its recipe completed."""
        return self.python.exists() and self.stamp.is_file()

    def hint(self) -> str:
        """How to create the venv."""
        extra = " ".join(f"{v}=..." for v in self.build_vars)
        return (f"create it with `make {self.name}-env{' ' + extra if extra else ''}` (runs "
                f"{self.setup_script}) or point NEUROKWS_{self.name.upper()}_VENV at one")

    def require(self) -> Path:
        """The venv's interpreter, or SidecarUnavailableError saying how to create it."""
        if not self.ready():
            raise SidecarUnavailableError(
                self.name, None, f"no complete {self.name} venv ({self.purpose}) at "
                f"{self.path}: {self.hint()}.")
        return self.python

    def recipe_paths(self) -> list[Path]:
        return [REPO_ROOT / p for p in self.recipe]


_LIB = "envs/lib/build_venv.sh"
# The requirements*.lock files are the hashed locks the recipes install from (`make lock`).
ENVS: dict[str, SideEnv] = {
    "lava": SideEnv("lava", "Lava Loihi2SimCfg fixed-point simulation, lava-nc 0.10 / "
                    "lava-dl 0.6", ("envs/lava/setup_lava_env.sh", "envs/lava/requirements.txt",
                                    "envs/lava/requirements.lock",
                                    "envs/lava/requirements-nodeps.txt",
                                    "envs/lava/requirements-nodeps.lock",
                                    "envs/lava/fixups.py", _LIB)),
    "nir": SideEnv("nir", "NIR cross-check with Norse 1.1", (
        "envs/nir/setup_nir_env.sh", "envs/nir/requirements.txt", "envs/nir/requirements.lock",
        "envs/nir/requirements-nodeps.txt", "envs/nir/requirements-nodeps.lock", _LIB)),
    "spyx": SideEnv("spyx", "Figure 3 BPTT baseline, Spyx 1.0 on CPU JAX", (
        "envs/spyx/setup_spyx_env.sh", "envs/spyx/requirements.txt", "envs/spyx/requirements.lock",
        _LIB)),
    "genn": SideEnv("genn", "GeNN 5.2 / mlGeNN 2.3 built from source", (
        "envs/genn/setup_genn_env.sh", "envs/genn/requirements.txt", "envs/genn/requirements.lock",
        _LIB), build_vars=("GENN_SRC", "ML_GENN_SRC")),
}


def side_env(name: str) -> SideEnv:
    try:
        return ENVS[name]
    except KeyError:
        raise KeyError(f"unknown side environment {name!r}; have {sorted(ENVS)}") from None


class SidecarError(NeurokwsError):
    """A module run in a side environment failed (or could not start)."""

    def __init__(self, env: str | None, module: str | None, message: str):
        self.env, self.module = env, module
        where = f"{module} in the {env or 'main'} environment" if module else f"{env} venv"
        super().__init__(f"{where}: {message}")


class SidecarUnavailableError(SidecarError):
    """The side venv is missing or incomplete (the message says how to create it)."""


@dataclass
class SidecarResult:
    """What the child's `sidecar_main` returned, plus how long the whole call took."""

    data: dict[str, Any]
    arrays: dict[str, Any] = field(default_factory=dict)
    wall_s: float = 0.0
    stderr: str = ""


def child_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment with this checkout's src/ first on PYTHONPATH."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC_DIR), *filter(None, [env.get("PYTHONPATH")])])
    env.update(extra or {})
    return env


def run_module(env: str | None, module: str, request: Mapping[str, Any] | None = None,
               arrays: Mapping[str, Any] | None = None, *, timeout: float | None = None,
               env_vars: Mapping[str, str] | None = None,
               preexec_fn: Callable[[], None] | None = None,
               workdir: str | os.PathLike | None = None) -> SidecarResult:
    """Run `module.sidecar_main(request, arrays)` in side environment `env` (None: this
    interpreter, in a fresh process); return its result or raise SidecarError."""
    import numpy as np

    python = sys.executable if env is None else str(side_env(env).require())
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"neurokws-{env or 'main'}-", dir=workdir) as tmp:
        folder = Path(tmp)
        (folder / f"{REQUEST}.json").write_text(json.dumps(dict(request or {}), default=str))
        if arrays:
            np.savez(folder / f"{REQUEST}.npz", **arrays)
        try:
            proc = subprocess.run([python, "-m", CHILD, module, str(folder)],
                                  env=child_environment(env_vars), capture_output=True,
                                  text=True, timeout=timeout, preexec_fn=preexec_fn, check=False)
        except subprocess.TimeoutExpired as exc:
            raise SidecarError(env, module, f"did not finish within {timeout} s") from exc
        except OSError as exc:
            raise SidecarError(env, module, f"could not start {python} ({exc})") from exc
        error_file = folder / f"{ERROR}.json"
        if proc.returncode != 0 or not (folder / f"{RESULT}.json").exists():
            detail = json.loads(error_file.read_text())["traceback"] if error_file.exists() \
                else "(no error record: the interpreter failed before the module ran)"
            raise SidecarError(env, module, f"failed (exit {proc.returncode}):\n{detail}\n"
                               f"stderr (end):\n{proc.stderr[-3000:]}")
        data = json.loads((folder / f"{RESULT}.json").read_text())
        out: dict[str, Any] = {}
        if (folder / f"{RESULT}.npz").exists():
            with np.load(folder / f"{RESULT}.npz", allow_pickle=False) as archive:
                out = {key: archive[key] for key in archive.files}
    return SidecarResult(data, out, time.perf_counter() - start, proc.stderr)


def serve(module: str, folder: str | os.PathLike) -> int:
    """Child side: run `module.sidecar_main` on the request in `folder`, write the result."""
    folder = Path(folder)
    try:
        import numpy as np

        request = json.loads((folder / f"{REQUEST}.json").read_text())
        arrays: dict[str, Any] = {}
        if (folder / f"{REQUEST}.npz").exists():
            with np.load(folder / f"{REQUEST}.npz", allow_pickle=False) as archive:
                arrays = {key: archive[key] for key in archive.files}
        returned = importlib.import_module(module).sidecar_main(request, arrays)
        data, out = returned if isinstance(returned, tuple) else (returned, {})
        if out:
            np.savez(folder / f"{RESULT}.npz", **out)
        (folder / f"{RESULT}.json").write_text(json.dumps(data, default=_json_default))
        return 0
    except BaseException:  # the parent reports it; nothing here may escape unrecorded
        (folder / f"{ERROR}.json").write_text(json.dumps({"traceback": traceback.format_exc()}))
        return 1


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def make_vars() -> str:
    """Make variables of every side env (`include`d by the Makefile): paths relative to the
    checkout where they lie inside it."""
    def rel(path: Path) -> str:
        try:
            return str(path.resolve().relative_to(REPO_ROOT))
        except ValueError:
            return str(path)

    lines = []
    for env in ENVS.values():
        key = env.name.upper()
        lines += [f"{key}_VENV := {rel(env.path)}", f"{key}_STAMP := {rel(env.stamp)}",
                  f"{key}_SETUP := {env.setup_script}", f"{key}_RECIPE := {' '.join(env.recipe)}"]
    lines.append(f"SIDE_ENVS := {' '.join(ENVS)}")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if argv == ["make-vars"]:
        sys.stdout.write(make_vars())
        return 0
    if len(argv) == 2:
        return serve(argv[0], argv[1])
    sys.stderr.write("usage: python -m neurokws.utils.sidecar (make-vars | MODULE FOLDER)\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
