"""Environment files: the conda env of the rules covers the package's runtime dependencies."""

from __future__ import annotations

import re
from pathlib import Path

import tomllib
import yaml

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
