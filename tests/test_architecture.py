"""docs/architecture.md stays true: every import between packages is one its table allows,
no default is written twice, and no rule script reads the config itself."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "neurokws"


def allowed_imports() -> dict[str, set[str]]:
    """package -> packages it may import, from the table in docs/architecture.md."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    section = text.split("## Packages and their imports", 1)[1]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0] not in ("package", "---"):
            rows[cells[0]] = {c.strip() for c in cells[2].split(",") if c.strip()}
    return rows


def package_of(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py") if rel.parts[0] != "__init__.py" else "neurokws"


def imported_packages(path: Path) -> set[str]:
    """neurokws packages `path` imports (from neurokws import paper -> paper)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "neurokws":
                names = [f"neurokws.{a.name}" for a in node.names]
            elif node.module.startswith("neurokws."):
                names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names if a.name.startswith("neurokws.")]
        found |= {name.split(".")[1] for name in names if name.split(".")[1] != "__version__"}
    return found


def test_every_package_imports_only_what_the_drawing_allows():
    rows = allowed_imports()
    packages = {package_of(p) for p in SRC.rglob("*.py")} - {"neurokws"}
    assert packages == set(rows), f"packages {packages} vs table {set(rows)}"
    wrong = []
    for path in SRC.rglob("*.py"):
        own = package_of(path)
        if own == "neurokws":
            continue
        for other in imported_packages(path) - {own} - rows[own]:
            wrong.append(f"{path.relative_to(ROOT)} imports {other}")
    assert not wrong, "imports the table in docs/architecture.md does not allow:\n" + \
        "\n".join(wrong)


def test_the_layers_have_no_cycle():
    rows = allowed_imports()
    done: set[str] = set()

    def visit(package: str, path: tuple[str, ...]) -> None:
        assert package not in path, f"cycle {' -> '.join((*path, package))}"
        if package not in done:
            for other in rows[package]:
                visit(other, (*path, package))
            done.add(package)

    for package in rows:
        visit(package, ())


def schema_keys() -> set[str]:
    """Every property name of config/schema.yaml."""
    keys: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            keys.update(node.get("properties", {}))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(yaml.safe_load((ROOT / "config" / "schema.yaml").read_text()))
    return keys


def test_no_config_default_is_written_outside_the_schema():
    """No `.get("<schema key>", <default>)` in the library, rules or scripts: a default of
    a config key lives in config/schema.yaml only (resolve_config fills it in)."""
    keys = schema_keys()
    pattern = re.compile(r"""\.get\(\s*["']([A-Za-z_]+)["']\s*,""")
    files = [*SRC.rglob("*.py"), *(ROOT / "workflow").rglob("*.py"),
             *(ROOT / "workflow").rglob("*.smk"), ROOT / "Snakefile"]
    found = [f"{path.relative_to(ROOT)}: .get({key!r}, ...)" for path in files
             for key in pattern.findall(path.read_text()) if key in keys]
    assert not found, "defaults outside config/schema.yaml:\n" + "\n".join(found)
    assert {"n_steps", "percentile", "batch_sizes", "threads"} <= keys   # the scan is live


def schema_defaults() -> dict[str, list[tuple[str, object]]]:
    """Key name -> (dotted path, default) of every key of config/schema.yaml with one."""
    found: dict[str, list[tuple[str, object]]] = {}

    def walk(node: object, path: str) -> None:
        if isinstance(node, dict):
            for key, sub in node.get("properties", {}).items():
                if isinstance(sub, dict) and "default" in sub:
                    found.setdefault(key, []).append((f"{path}{key}", sub["default"]))
                walk(sub, f"{path}{key}.")
            for key, sub in node.items():
                if key != "properties":
                    walk(sub, path)
        elif isinstance(node, list):
            for sub in node:
                walk(sub, path)

    walk(yaml.safe_load((ROOT / "config" / "schema.yaml").read_text()), "")
    return found


def library_dataclasses() -> list[type]:
    """Every dataclass defined in src/neurokws (modules that need a side environment's
    packages to import are left out)."""
    import dataclasses
    import importlib
    import pkgutil

    import neurokws

    classes = []
    for info in pkgutil.walk_packages(neurokws.__path__, "neurokws."):
        try:
            module = importlib.import_module(info.name)
        except ImportError:   # e.g. ml_genn, only in the GeNN side environment
            continue
        classes += [obj for obj in vars(module).values() if isinstance(obj, type)
                    and dataclasses.is_dataclass(obj) and obj.__module__ == module.__name__]
    return classes


# A data container's own format fact, not a setting: SHD/SSC's 700 cochlea channels
# (neurokws.data.formats.events.N_CHANNELS), which the sequence task's channel count defaults to.
NOT_SETTINGS = {"neurokws.data.formats.events.EventSplit.n_channels"}


def test_no_class_repeats_a_schema_default():
    """A dataclass field named as a config key never defaults to that key's schema default:
    the settings classes that mirror the config are found by themselves, not listed."""
    import dataclasses

    defaults = schema_defaults()
    classes = library_dataclasses()
    assert len(classes) > 40   # the scan is live
    repeated = []
    for cls in classes:
        for field in dataclasses.fields(cls):
            name = f"{cls.__module__}.{cls.__qualname__}.{field.name}"
            if field.default is dataclasses.MISSING or name in NOT_SETTINGS:
                continue
            same = [path for path, value in defaults.get(field.name, ())
                    if value == field.default]
            if same:
                repeated.append(f"{name} = {field.default!r}: the default of {same}")
    assert not repeated, "schema defaults written again:\n" + "\n".join(repeated)


def test_settings_classes_are_filled_from_the_config_by_field_name():
    """TrainSettings, DelayTraining and QuantTraining get their values through
    config.from_sections: a key whose field is missing from the config is an error, and
    every field of TrainSettings comes from a config key of its name (or the Table I
    value)."""
    import dataclasses

    import pytest

    from neurokws.config import TrainSettings, default_config, from_sections, train_settings

    config = default_config(training={"lr": 2, "nu_upper": 9})
    settings = train_settings(config, "default", 1)
    assert settings.lr == 2.0 and isinstance(settings.lr, float) and settings.nu_upper == 9.0
    tr, ds = config["training"], config["datasets"]["default"]
    derived = {"reg_lambda_upper", "reg_lambda_lower"}
    for field in dataclasses.fields(TrainSettings):
        assert field.name in derived or field.name in tr or field.name in ds, field.name
    with pytest.raises(KeyError, match=r"TrainSettings\.epochs"):
        from_sections(TrainSettings, (tr,), reg_lambda_upper=1.0, reg_lambda_lower=1.0)


def test_rule_scripts_get_their_values_through_params():
    scripts = sorted((ROOT / "workflow" / "scripts").glob("*.py"))
    assert scripts
    readers = [p.name for p in scripts if "snakemake.config" in p.read_text()]
    assert not readers, f"scripts reading snakemake.config: {readers}"
