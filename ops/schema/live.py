"""A running PocketBase against schema.yaml: diff its collections, or pull them back into schema.yaml."""
from __future__ import annotations

import difflib
import json
import re
from pathlib import Path

import yaml
from pocketbase import PocketBase

from ops.schema.pocketbase_json import (
    SCHEMA_PATH, SYSTEM_FIELD_NAMES, SchemaError, collections_json, crc32, load_schema,
)


def _live_collections(url: str, token: str) -> list[dict]:
    # The raw JSON (client.send): the client's Collection models rename field options, which diff and pull
    # must see as PocketBase stores them.
    client = PocketBase(url, timeout=10)
    client.auth_store.save(token, None)
    page = client.send("/api/collections", {"params": {"perPage": 500, "sort": "created"}})
    return [c for c in page["items"] if not c.get("system")]


def _unalias(rule: str | None, aliases: dict) -> str | None:
    if rule is None:
        return None
    for alias, expression in aliases.items():
        rule = rule.replace(expression, "{" + alias + "}")
    return rule


def _field_to_yaml(field: dict) -> dict:
    kind = field["type"]
    out: dict = {"name": field["name"]}
    if field["id"] != f"{kind}{crc32(field['name'])}":
        out["id"] = field["id"]
    out["type"] = kind
    if field.get("required"):
        out["required"] = True
    if kind == "text":
        if field.get("min"):
            out["min"] = field["min"]
        if field.get("max"):
            out["max"] = field["max"]
        if field.get("pattern"):
            out["pattern"] = field["pattern"]
    elif kind == "number":
        for key in ("min", "max"):
            if field.get(key) is not None:
                out[key] = field[key]
        if field.get("onlyInt"):
            out["only_int"] = True
    elif kind == "file":
        out["max_select"] = field.get("maxSelect", 1)
        out["max_size"] = field.get("maxSize", 0)
        if field.get("mimeTypes"):
            out["mime_types"] = field["mimeTypes"]
    elif kind == "select":
        out["values"] = field["values"]
        if field.get("maxSelect", 1) != 1:
            out["max_select"] = field["maxSelect"]
    elif kind == "autodate":
        out["on_create"], out["on_update"] = bool(field.get("onCreate")), bool(field.get("onUpdate"))
    elif kind == "json" and field.get("maxSize"):
        out["max_size"] = field["maxSize"]
    if field.get("hidden"):
        out["hidden"] = True  # superusers only (schema.yaml: tbl_attachments' moderation fields)
    return out


def _index_to_yaml(sql: str) -> dict:
    match = re.match(r"CREATE (UNIQUE )?INDEX `?(\w+)`? ON `?\w+`? \(([^)]*)\)(?: WHERE (.*))?$", sql.strip())
    if not match:
        raise SchemaError(f"cannot read index {sql!r}")
    out = {"name": match.group(2)}
    if match.group(1):
        out["unique"] = True
    out["columns"] = [c.strip().strip("`").split(" ")[0] for c in match.group(3).split(",")]
    if match.group(4):
        out["where"] = match.group(4)
    return out


def from_pocketbase(collection: dict, aliases: dict, previous: dict | None = None) -> dict:
    """A live PocketBase collection as a schema.yaml entry (notes kept from the previous entry)."""
    out: dict = {"name": collection["name"]}
    if collection["id"] != f"pbc_{crc32(collection['name'])}":
        out["id"] = collection["id"]
    out["type"] = collection["type"]
    if previous and previous.get("notes"):
        out["notes"] = previous["notes"]
    out["rules"] = {k: _unalias(collection.get(f"{k}Rule"), aliases)
                    for k in ("list", "view", "create", "update", "delete")}
    if collection["type"] == "view":
        out["query"] = collection["viewQuery"]
        return out
    fields = collection["fields"]
    if collection["type"] == "auth":
        password = next(f for f in fields if f["name"] == "password")
        email = next(f for f in fields if f["name"] == "email")
        out["auth"] = {"password_auth": bool(collection["passwordAuth"]["enabled"]),
                       "password_cost": password.get("cost", 0),
                       "email_required": bool(email.get("required")),
                       "token_duration": collection["authToken"]["duration"]}
        if collection.get("authRule") != "":
            out["auth"]["auth_rule"] = _unalias(collection.get("authRule"), aliases)
        fields = [f for f in fields if f["name"] not in SYSTEM_FIELD_NAMES]
    else:
        fields = [f for f in fields if f["name"] != "id"]
    default_autodates = {"created": (True, False), "updated": (True, True)}
    out["fields"] = [
        _field_to_yaml(f) for f in fields
        if not (f["name"] in default_autodates and f["type"] == "autodate"
                and (f.get("onCreate"), f.get("onUpdate")) == default_autodates[f["name"]]
                and f["id"] == f"autodate{crc32(f['name'])}")
    ]
    indexes = [i for i in collection.get("indexes", []) if "`idx_tokenKey_" not in i and "`idx_email_" not in i]
    out["indexes"] = [_index_to_yaml(i) for i in indexes]
    return out


def _normalize(collection: dict) -> dict:
    """The parts of a collection that schema.yaml decides, for comparison."""
    keep = {k: collection.get(k) for k in ("id", "name", "type", "listRule", "viewRule", "createRule",
                                            "updateRule", "deleteRule")}
    keep["indexes"] = sorted(collection.get("indexes", []))
    if collection["type"] == "view":
        keep["viewQuery"] = collection.get("viewQuery")
        return keep  # its fields follow from the query
    # Field order only changes how the dashboard lists them; compare by name.
    keep["fields"] = sorted(({k: v for k, v in f.items() if k != "help"} for f in collection["fields"]),
                            key=lambda f: f["name"])
    if collection["type"] == "auth":
        keep["passwordAuth"] = collection.get("passwordAuth")
        keep["authToken"] = {"duration": collection.get("authToken", {}).get("duration")}
        keep["authRule"] = collection.get("authRule")
    return keep


def diff(url: str, token: str, schema_path: Path = SCHEMA_PATH) -> str:
    """Unified diff between schema.yaml (a) and the live collections (b); empty when they agree."""
    declared = {c["name"]: _normalize(c) for c in collections_json(load_schema(schema_path))}
    live = {c["name"]: _normalize(c) for c in _live_collections(url, token)}
    a = json.dumps(declared, ensure_ascii=False, indent=1, sort_keys=True).splitlines()
    b = json.dumps(live, ensure_ascii=False, indent=1, sort_keys=True).splitlines()
    return "\n".join(difflib.unified_diff(a, b, "schema.yaml", url, lineterm=""))


class _LiteralDumper(yaml.SafeDumper):
    """Writes multi-line strings (a view's SQL) as literal blocks, as schema.yaml has them."""


_LiteralDumper.add_representer(str, lambda dumper, value: dumper.represent_scalar(
    "tag:yaml.org,2002:str", value, style="|" if "\n" in value else None))


def pull(url: str, token: str, schema_path: Path = SCHEMA_PATH) -> None:
    """Rewrite the collections of schema_path from the live instance, keeping its header and settings."""
    schema = load_schema(schema_path)
    aliases = schema.get("rule_aliases", {})
    previous = {c["name"]: c for c in schema["collections"]}
    schema["collections"] = [from_pocketbase(c, aliases, previous.get(c["name"]))
                             for c in _live_collections(url, token)]
    text = schema_path.read_text(encoding="utf-8")
    header = "".join(line for line in text.splitlines(keepends=True)[:200] if line.startswith("#"))
    body = yaml.dump(schema, Dumper=_LiteralDumper, allow_unicode=True, sort_keys=False, width=120)
    schema_path.write_text(header.split("\n\n")[0] + "\n\n" + body, encoding="utf-8")
