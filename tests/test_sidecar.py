"""Side environments: one module runs code in another interpreter and hands back a result."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from neurokws.utils.sidecar import (
    ENVS,
    SidecarError,
    SidecarUnavailableError,
    make_vars,
    run_module,
    side_env,
)

ROOT = Path(__file__).resolve().parents[1]
PATH = {"PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT / "tests")])}


def test_request_and_arrays_round_trip_through_a_fresh_process():
    x = np.arange(6, dtype=np.int16).reshape(2, 3)
    reply = run_module(None, "sidecar_echo", {"a": 1, "b": [1.5, None]}, {"x": x},
                       env_vars=PATH)
    assert reply.data == {"echo": {"a": 1, "b": [1.5, None]}, "keys": ["x"], "dtype": "int16"}
    np.testing.assert_array_equal(reply.arrays["x"], 2 * x)
    assert reply.arrays["x"].dtype == np.int16
    np.testing.assert_array_equal(reply.arrays["index"], np.arange(3))


def test_a_failing_module_raises_sidecar_error_with_its_traceback():
    with pytest.raises(SidecarError) as info:
        run_module(None, "sidecar_echo", {"fail": "on purpose"}, env_vars=PATH)
    text = str(info.value)
    assert "sidecar_echo in the main environment" in text
    assert "ValueError: asked to fail: on purpose" in text and "Traceback" in text


def test_an_unimportable_module_and_a_timeout_are_sidecar_errors():
    with pytest.raises(SidecarError, match="No module named 'no_such_module'"):
        run_module(None, "no_such_module", {})
    with pytest.raises(SidecarError, match=r"did not finish within 0\.5 s"):
        run_module(None, "sidecar_echo", {"sleep": 30}, env_vars=PATH, timeout=0.5)


@pytest.mark.parametrize("name", sorted(ENVS))
def test_a_missing_venv_says_how_to_create_it(tmp_path, monkeypatch, name):
    monkeypatch.setenv(f"NEUROKWS_{name.upper()}_VENV", str(tmp_path / "nope"))
    env = side_env(name)
    assert env.path == tmp_path / "nope" and not env.ready()
    with pytest.raises(SidecarUnavailableError) as info:
        run_module(name, "sidecar_echo", {})
    text = str(info.value)
    assert f"make {name}-env" in text and env.setup_script in text
    assert str(tmp_path / "nope") in text


def test_recipes_exist_and_the_makefile_takes_its_paths_from_here():
    for env in ENVS.values():
        assert all(p.is_file() for p in env.recipe_paths()), env.name
    printed = subprocess.run([sys.executable, "-m", "neurokws.utils.sidecar", "make-vars"],
                             capture_output=True, text=True, check=True,
                             env={**os.environ, **PATH}).stdout
    assert printed == make_vars()
    assert "LAVA_STAMP := .venv-lava/.neurokws-lava-stamp" in printed
    makefile = "\n".join(line for line in (ROOT / "Makefile").read_text().splitlines()
                         if not line.lstrip().startswith("#"))   # what make executes
    assert "neurokws.utils.sidecar make-vars" in makefile
    assert ".venv-lava" not in makefile and "setup_lava_env" not in makefile
