"""Environment files: the conda env of the rules covers the package's runtime dependencies;
the hashed locks of the main and side venvs match what they are made from."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from neurokws.utils.sidecar import ENVS

ROOT = Path(__file__).resolve().parents[1]
CONDA_NAMES = {"matplotlib": "matplotlib-base", "seaborn": "seaborn-base",
               "soundfile": "pysoundfile"}
NOT_IN_RULES = {"snakemake", "snakemake-executor-plugin-slurm",
                "snakemake-executor-plugin-slurm-jobstep"}   # Snakemake runs the rules


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ]", requirement.strip(), maxsplit=1)[0].lower()


def test_conda_env_of_the_rules_has_every_runtime_dependency():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    needed = {_name(r) for r in project["dependencies"]} - NOT_IN_RULES
    env = yaml.safe_load((ROOT / "envs" / "neurokws.yaml").read_text())
    listed = set()
    for entry in env["dependencies"]:
        if isinstance(entry, dict):
            listed |= {_name(r) for r in entry["pip"]}
        else:
            listed.add(_name(entry))
    missing = sorted(n for n in needed if CONDA_NAMES.get(n, n) not in listed)
    assert not missing, f"envs/neurokws.yaml lacks {missing} (pyproject.toml needs them)"
    assert "nir" in listed


# --- Hashed locks (`make lock`, envs/lib/update_locks.sh; checked by envs/lib/check_lock.py) ---

CHECK_LOCK = ROOT / "envs" / "lib" / "check_lock.py"
HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")


def _locks(root: Path) -> dict[Path, Path]:
    """Every hashed lock and the file it is made from: the main venv's, each side venv's
    requirements*.txt (envs/<name>/), and the lock tool's own (envs/lib/lock-tools.txt)."""
    sources = [*sorted(root.glob("envs/*/requirements*.txt")), root / "envs/lib/lock-tools.txt"]
    return {root / "requirements.lock": root / "pyproject.toml",
            root / "requirements-cuda.lock": root / "pyproject.toml",
            **{source.with_suffix(".lock"): source for source in sources}}


def _entries(lock: Path) -> list[str]:
    """The lock's requirement entries (backslash continuations joined, comments dropped)."""
    text = lock.read_text().replace("\\\n", " ")
    return [line.strip() for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def _pins(lock: Path) -> dict[str, Version]:
    return {canonicalize_name(entry.split("==")[0]): Version(entry.split("==")[1].split()[0])
            for entry in _entries(lock)}


def _check(lock: Path, source: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(CHECK_LOCK), "check", str(lock), str(source)],
                          capture_output=True, text=True)


def test_every_side_env_has_its_locks_in_its_recipe():
    locks = _locks(ROOT)
    assert {p.parent.name for p in locks} >= {"lava", "nir", "spyx", "genn", "lib"}
    for lock in locks:
        assert lock.is_file(), f"{lock.relative_to(ROOT)} is missing: run `make lock`"
    for env in ENVS.values():
        mine = [p for p in locks if p.parent.name == env.name]
        assert mine and all(str(p.relative_to(ROOT)) in env.recipe for p in mine), env.name
        script = (ROOT / env.setup_script).read_text()
        assert all(p.name in script for p in mine) and "--require-hashes" in script, env.name


def test_every_lock_entry_is_one_exact_pin_with_sha256_hashes():
    for lock in _locks(ROOT):
        entries = _entries(lock)
        assert entries, lock
        for entry in entries:
            assert re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*==\S+ ", entry), (lock, entry)
            options = entry.split()[1:]
            assert options and all(HASH.fullmatch(o) for o in options), (lock, entry)


@pytest.mark.parametrize("lock, extras", [("requirements.lock", ("dev", "gpu")),
                                          ("requirements-cuda.lock", ("dev", "gpu", "cuda"))])
def test_the_main_lock_pins_every_direct_dependency_within_its_specifier(lock, extras):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    direct = project["dependencies"] + [r for extra in extras
                                        for r in project["optional-dependencies"][extra]]
    pins = _pins(ROOT / lock)
    for text in direct:
        requirement = Requirement(text)
        pinned = pins.get(canonicalize_name(requirement.name))
        assert pinned is not None, f"{lock} lacks {text}: run `make lock`"
        assert requirement.specifier.contains(pinned, prereleases=True), (text, pinned)


def test_a_gpu_machine_gets_the_same_files_plus_the_cuda_wheels():
    """requirements-cuda.lock (Makefile: where nvidia-smi finds a GPU, or CUDA=1) is
    requirements.lock, entry for entry (version and hashes), plus the CUDA 12 wheels: so a
    GPU machine's numpy, numba, ... are those of every other machine."""
    plain = {e.split()[0]: sorted(e.split()[1:]) for e in _entries(ROOT / "requirements.lock")}
    cuda = {e.split()[0]: sorted(e.split()[1:])
            for e in _entries(ROOT / "requirements-cuda.lock")}
    assert {pin: cuda.get(pin) for pin in plain} == plain
    added = {canonicalize_name(pin.split("==")[0]) for pin in set(cuda) - set(plain)}
    assert added and all(name.startswith(("nvidia-", "cuda-")) for name in added), added
    assert not any(name.startswith("nvidia-cuda") for name in map(
        lambda pin: canonicalize_name(pin.split("==")[0]), plain))


def test_each_side_lock_pins_its_requirements_at_their_versions():
    for lock, source in _locks(ROOT).items():
        if source.suffix != ".txt":
            continue
        pins = _pins(lock)
        for line in source.read_text().splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            requirement = Requirement(line)
            assert str(requirement.specifier).startswith("=="), (source, line)   # pinned input
            pinned = pins.get(canonicalize_name(requirement.name))
            # ==2.13.0 admits 2.13.0+cpu, the CPU torch wheel found here (PEP 440 local labels)
            assert pinned is not None and requirement.specifier.contains(pinned), (lock, line)


def test_the_lock_check_passes_on_the_real_locks():
    for lock, source in _locks(ROOT).items():
        result = _check(lock, source)
        assert result.returncode == 0, result.stderr


def test_the_lock_check_refuses_a_lock_pyproject_no_longer_matches(tmp_path):
    pyproject, lock = tmp_path / "pyproject.toml", tmp_path / "requirements.lock"
    text = (ROOT / "pyproject.toml").read_text()
    lock.write_bytes((ROOT / "requirements.lock").read_bytes())
    # Only the requirement lists count: a new description keeps the lock valid.
    pyproject.write_text(text.replace('description = "', 'description = "Changed. '))
    assert _check(lock, pyproject).returncode == 0
    changed = {'"tqdm>=4.66,<5",': '"tqdm>=4.66,<5",\n    "rich>=13",',          # a new one
               '"tonic==1.7.0"': '"tonic==1.6.0"',                              # another pin
               '"ruff==0.17.5",': '"ruff==0.17.5",\n    "mypy",'}                # in extra dev
    for old, new in changed.items():
        assert old in text
        pyproject.write_text(text.replace(old, new))
        result = _check(lock, pyproject)
        assert result.returncode == 1
        message = result.stderr
        assert str(lock) in message and str(pyproject) in message and "`make lock`" in message
        assert new.split('"')[-2] in message                      # names the requirement
    assert lock.read_bytes() == (ROOT / "requirements.lock").read_bytes()   # nothing written


def test_the_lock_check_refuses_a_side_lock_its_requirements_no_longer_match(tmp_path):
    source, lock = tmp_path / "requirements.txt", tmp_path / "requirements.lock"
    text = (ROOT / "envs/spyx/requirements.txt").read_text()
    lock.write_bytes((ROOT / "envs/spyx/requirements.lock").read_bytes())
    source.write_text(text.replace("jax==0.10.2", "jax==0.10.3"))
    result = _check(lock, source)
    assert result.returncode == 1
    assert "jax==0.10.3 is pinned at 0.10.2" in result.stderr and str(lock) in result.stderr
    assert "`make lock`" in result.stderr
    lock.write_text(lock.read_text().replace("# input-sha256:", "# no sha:"))   # hand-made
    source.write_text(text)
    assert _check(lock, source).returncode == 1


def test_a_setup_script_with_a_stale_lock_builds_nothing(tmp_path):
    envs = tmp_path / "envs"
    for name in ("lib", "spyx"):
        shutil.copytree(ROOT / "envs" / name, envs / name)
    requirements = envs / "spyx" / "requirements.txt"
    requirements.write_text(requirements.read_text() + "pytest==9.2.0\n")
    dest = tmp_path / "venv"
    # PIP_NO_INDEX: were the check missing, the build would fail fast instead of downloading.
    result = subprocess.run(["bash", str(envs / "spyx" / "setup_spyx_env.sh"), str(dest)],
                            capture_output=True, text=True, cwd=tmp_path,
                            env={**os.environ, "PYTHON_SPYX": sys.executable, "PIP_NO_INDEX": "1"})
    assert result.returncode == 1, result.stderr
    assert "pytest==9.2.0 is not pinned" in result.stderr and "`make lock`" in result.stderr
    assert not dest.exists() and not (tmp_path / "venv.partial").exists()
