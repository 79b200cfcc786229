"""The config's schema machinery: `config/schema.yaml` holds every key, its default and its
check; `resolve_config` turns what a user gave (a YAML file, `--config` overrides) into the
config every rule reads: command-line strings coerced to the types the schema asks for,
every violation reported by its dotted key, then the schema's defaults filled in
(Snakemake's `validate(set_default=True)`). `default_config` and `schema_default` give the
defaults to code outside a workflow."""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import yaml

from neurokws.utils.errors import ConfigError
from neurokws.utils.paths import REPO_ROOT

SCHEMA_PATH = REPO_ROOT / "config" / "schema.yaml"
DEFAULT_CONFIG_PATH = REPO_ROOT / "config" / "config.yaml"
_MINIMAL = {"datasets": {"default": {"source": "synthetic"}}, "hidden_sizes": [1], "seeds": [0]}


# libyaml's C parser where PyYAML was built with it (its wheels are): the schema is read by
# every Snakemake start (each cluster job's too) and the pure-Python parser takes ~0.4 s.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.cache
def _parsed_schema(path: str) -> dict[str, Any]:
    return yaml.load(Path(path).read_text(), Loader=_YAML_LOADER)


def load_schema(path: str | Path = SCHEMA_PATH) -> dict[str, Any]:
    """The JSON schema (a fresh copy: validation may write defaults into subschemas)."""
    return copy.deepcopy(_parsed_schema(str(path)))


def resolve_config(config: dict[str, Any], schema_path: str | Path = SCHEMA_PATH
                   ) -> dict[str, Any]:
    """Coerce, check and complete `config` in place (and return it); ConfigError if bad."""
    if not config:
        raise ConfigError(
            "no config given: run with `--configfile config/config.yaml` (the embedded "
            "default), `--configfile config/paper.yaml` (the paper's grid) or your own file.")
    schema = load_schema(schema_path)
    coerce_strings(config, schema, schema)
    check_config(config, schema_path)
    fill_defaults(config, load_schema(schema_path))
    maxima = config["model"]["delays"]   # checks of the completed config
    if True in [bool(d) for d in config["delays"]] and not max(maxima["max_in"],
                                                                maxima["max_rec"]):
        raise ConfigError("invalid config (see config/schema.yaml for every key):\n  - "
                          "'delays' has true, but 'model.delays' max_in and max_rec are both "
                          "0: give the cells with delays a maximum above 0, or set "
                          "delays: [false]")
    return config


def fill_defaults(config: dict[str, Any], schema: dict[str, Any]) -> None:
    """Write the schema's defaults into `config` where a key is absent, as Snakemake's
    `validate(set_default=True)` does: jsonschema's validator extended so that `properties`
    first sets each missing property's `default` (the recipe of jsonschema's FAQ,
    https://python-jsonschema.readthedocs.io/en/stable/faq/), then validates. `schema` is
    a fresh copy (the defaults it inserts are its own objects). Parsed once per process
    rather than re-read from disk (Snakemake's validate parses the file each call)."""
    import jsonschema

    base = jsonschema.validators.validator_for(schema)
    check_properties = base.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, subschema):
        if isinstance(instance, dict):
            for name, spec in properties.items():
                if "default" in spec:
                    instance.setdefault(name, spec["default"])
        yield from check_properties(validator, properties, instance, subschema)

    filling = jsonschema.validators.extend(base, {"properties": set_defaults})
    try:
        filling(schema).validate(config)
    except jsonschema.ValidationError as error:   # check_config ran first: not expected
        raise ConfigError(f"invalid config: {error.message}") from error


def default_config(**sections: Any) -> dict[str, Any]:
    """A resolved config for code outside the workflow: the schema's defaults for every
    section not given; `sections` (top-level keys: datasets=..., model=..., ...) as given.
    Without datasets/hidden_sizes/seeds, one synthetic dataset 'default' x [1] x [0]."""
    return resolve_config(copy.deepcopy({**_MINIMAL, **sections}))


def schema_default(dotted: str) -> Any:
    """The schema's default of one key, e.g. 'deploy.percentile' or 'model' (a section);
    dataset keys under the minimal config's dataset: 'datasets.default.shift_max'."""
    value: Any = default_config()
    for part in dotted.split("."):
        try:
            value = value[part]
        except (KeyError, TypeError) as exc:
            raise KeyError(f"config/schema.yaml has no default for '{dotted}'") from exc
    return copy.deepcopy(value)


# ---- command-line strings -> schema types --------------------------------------------------

def _deref(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """Follow a local '$ref' ('#/$defs/name'), merging the referring schema's other keys."""
    while isinstance(schema, dict) and "$ref" in schema:
        target: Any = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target[part]
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def _alternatives(schema: dict[str, Any], root: dict[str, Any]) -> list[dict[str, Any]]:
    schema = _deref(schema, root)
    options = schema.get("oneOf") or schema.get("anyOf")
    if not options:
        return [schema]
    return [alt for option in options for alt in _alternatives(option, root)]


def _types(schema: dict[str, Any]) -> set[str]:
    kind = schema.get("type")
    if kind is None:
        return {"string"} if any(isinstance(v, str) for v in schema.get("enum", [])) else set()
    return {kind} if isinstance(kind, str) else set(kind)


def _coerce_scalar(text: str, options: list[dict[str, Any]]) -> Any:
    types = set().union(*(_types(o) for o in options))
    if "string" in types or not types:
        return text
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, str) and "number" in types:  # YAML 1.1 reads '1e-3' as text
        try:
            value = float(text)
        except ValueError:
            return text
    if isinstance(value, bool):
        return value if "boolean" in types else text
    if isinstance(value, int) and types & {"integer", "number"}:
        return value
    if isinstance(value, float) and "number" in types:
        return value
    if value is None and "null" in types:
        return None
    return text


def coerce_strings(value: Any, schema: dict[str, Any], root: dict[str, Any]) -> Any:
    """Convert strings where the schema expects a number, boolean or null (in place).

    Snakemake parses nested `--config key='{a: 1}'` values with YAML's BaseLoader, so every
    leaf arrives as a string; a string stays a string wherever the schema allows one.
    """
    options = _alternatives(schema, root)
    if isinstance(value, str):
        return _coerce_scalar(value, options)
    if isinstance(value, dict):
        for key in list(value):
            for option in options:
                sub = option.get("properties", {}).get(key)
                extra = option.get("additionalProperties")
                if sub is None and isinstance(extra, dict):
                    sub = extra
                if sub is not None:
                    value[key] = coerce_strings(value[key], sub, root)
                    break
    elif isinstance(value, list):
        for option in options:
            items = option.get("items")
            if isinstance(items, dict):
                value[:] = [coerce_strings(v, items, root) for v in value]
                break
    return value


# ---- checks ----------------------------------------------------------------------------------

def _key_path(parts) -> str:
    return ".".join(str(p) for p in parts) or "<top level>"


def check_config(config: dict, schema_path: str | Path = SCHEMA_PATH) -> None:
    """Raise ConfigError listing every schema violation by its dotted key, plus grid checks.

    Runs before the default-filling validation so that users see short, key-named messages
    instead of schema dumps.
    """
    import jsonschema

    schema = load_schema(schema_path)
    validator_cls = jsonschema.validators.validator_for(schema)
    problems = []
    for error in sorted(validator_cls(schema).iter_errors(config), key=lambda e: list(e.path)):
        where = _key_path(error.absolute_path)
        if error.validator == "additionalProperties":
            unknown = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            for key in unknown:
                problems.append(f"unknown key '{_key_path([*error.absolute_path, key])}'")
            continue
        message = error.message
        if isinstance(error.instance, str) and error.validator == "type":
            message += (" (values given with --config arrive as text; use a YAML file with "
                        "--configfile for nested settings)")
        problems.append(f"'{where}': {message}")
    if not problems:
        problems = _grid_problems(config)
    if problems:
        raise ConfigError("invalid config (see config/schema.yaml for every key):\n  - "
                          + "\n  - ".join(problems))


def _grid_problems(config: dict) -> list[str]:
    """Checks a JSON schema cannot express: per-hidden maps cover every hidden size (and
    per-bits maps every bit width)."""
    problems = []
    # (a config checked before the schema's defaults are filled in may lack these sections)
    training = config.get("training") or {}
    threads = training["threads"] if "threads" in training else None
    if isinstance(threads, dict):
        missing = sorted(set(config["hidden_sizes"]) - {int(k) for k in threads})
        if missing:
            problems.append(f"'training.threads' has no value for hidden size(s) {missing}")
    limits = config.get("resources") or {}
    cap = limits["max_threads"] if "max_threads" in limits else None
    if cap is not None:
        profiling = config.get("profiling") or {}
        asked = {"training.threads": max(threads.values()) if isinstance(threads, dict)
                 else threads,
                 "profiling.threads": profiling["threads"] if "threads" in profiling else None}
        for key, value in asked.items():
            if value is not None and value > cap:
                problems.append(f"'{key}' asks for {value} cores, more than "
                                f"'resources.max_threads' ({cap}): lower it or raise the cap "
                                "to the node's cores")
    qat = training["qat"] if "qat" in training else {}
    epochs = qat["epochs"] if "epochs" in qat else None
    deploy = config.get("deploy") or {}
    if isinstance(epochs, dict) and "bits" in deploy:
        missing = sorted({int(b) for b in deploy["bits"]} - {int(k) for k in epochs})
        if missing:
            problems.append(f"'training.qat.epochs' has no value for bit width(s) {missing}")
    for name, ds in config["datasets"].items():
        for key in ("reg_lambda", "reg_lambda_lower"):
            value = ds.get(key)
            if isinstance(value, dict):
                missing = sorted(set(config["hidden_sizes"]) - {int(k) for k in value})
                if missing:
                    problems.append(f"'datasets.{name}.{key}' has no value for hidden "
                                    f"size(s) {missing}")
        for source in ("files", "audio"):
            if ds["source"] == source and source not in ds:
                problems.append(f"'datasets.{name}.{source}' is required when source is "
                                f"'{source}'")
    return problems
