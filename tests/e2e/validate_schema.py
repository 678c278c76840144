#!/usr/bin/env python3
"""validate_schema.py SCHEMA_DIR FILE... — check every JSON line of each FILE
against the schema its "schema" field names: <name>.schema.json in SCHEMA_DIR,
or, for a run summary without a file of its own (agreement_run.v1,
truth_run.v1), the schema of its family (<family>.v1.schema.json). Cross-file
$refs (ope_metrics.v1 -> agreement.v1) resolve through a registry of every
schema in SCHEMA_DIR: `referencing` where installed (jsonschema >= 4.18),
else the RefResolver of older releases (Debian 12 ships 4.10).

Exit status: 0 all lines valid; 1 a line is invalid (message names file, line
and the failing path); 77 python3 has no jsonschema/referencing (the caller
skips).
"""
import json
import os
import sys

try:
    import jsonschema
except ImportError:
    sys.exit(77)
try:
    from referencing import Registry, Resource
except ImportError:
    Registry = None


def load_schemas(schema_dir):
    by_file = {}
    for name in sorted(os.listdir(schema_dir)):
        if name.endswith(".schema.json"):
            with open(os.path.join(schema_dir, name)) as f:
                doc = json.load(f)
            jsonschema.Draft202012Validator.check_schema(doc)
            by_file[name] = doc
    return by_file


def make_validator(by_file):
    """schema -> validator resolving cross-file $refs by $id."""
    docs = list(by_file.values())
    if Registry is not None:
        registry = Registry().with_resources(
            (d["$id"], Resource.from_contents(d)) for d in docs)
        return lambda sch: jsonschema.Draft202012Validator(sch, registry=registry)
    store = {d["$id"]: d for d in docs}
    return lambda sch: jsonschema.Draft202012Validator(
        sch, resolver=jsonschema.RefResolver("", sch, store=store))


def schema_for(line_schema, by_file):
    """The schema of one kind of line; in a file that accepts several kinds
    (oneOf by "schema" const) the matching branch, for precise messages."""
    name = line_schema + ".schema.json"
    doc = by_file.get(name) or by_file.get(line_schema.replace("_run.v1", ".v1") + ".schema.json")
    if doc is None:
        return None
    for branch in doc.get("oneOf", []):
        ref = branch.get("$ref", "")
        sub = doc.get("$defs", {}).get(ref.rpartition("/")[2], {})
        if sub.get("properties", {}).get("schema", {}).get("const") == line_schema:
            return {"$ref": doc["$id"] + ref}
    return doc


def main():
    by_file = load_schemas(sys.argv[1])
    validator = make_validator(by_file)
    bad = 0
    for path in sys.argv[2:]:
        with open(path) as f:
            for lineno, text in enumerate(f, 1):
                doc = json.loads(text)
                schema = schema_for(doc.get("schema", ""), by_file)
                if schema is None:
                    print(f"{path}:{lineno}: no schema for {doc.get('schema')!r}")
                    bad += 1
                    continue
                for e in validator(schema).iter_errors(doc):
                    where = "/".join(map(str, e.absolute_path))
                    print(f"{path}:{lineno}: {where}: {e.message}")
                    bad += 1
    sys.exit(1 if bad else 0)


main()
