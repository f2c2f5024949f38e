"""schema.yaml read and converted into PocketBase's collection JSON (ids, fields, rules, indexes)."""
from __future__ import annotations

import zlib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent.parent
SCHEMA_PATH = ROOT / "schema.yaml"

# PocketBase's own system fields of an auth collection, with the ids PocketBase gives them.
AUTH_SYSTEM_FIELDS = [
    {"id": "text3208210256", "name": "id", "type": "text", "system": True, "primaryKey": True, "required": True,
     "min": 15, "max": 15, "pattern": "^[a-z0-9]+$", "autogeneratePattern": "[a-z0-9]{15}"},
    {"id": "password901924565", "name": "password", "type": "password", "system": True, "hidden": True,
     "required": True, "min": 8, "max": 0, "pattern": "", "cost": 0},
    {"id": "text2504183744", "name": "tokenKey", "type": "text", "system": True, "hidden": True, "required": True,
     "min": 30, "max": 60, "pattern": "", "autogeneratePattern": "[a-zA-Z0-9]{50}", "primaryKey": False},
    {"id": "email3885137012", "name": "email", "type": "email", "system": True, "required": True,
     "exceptDomains": [], "onlyDomains": []},
    {"id": "bool1547992806", "name": "emailVisibility", "type": "bool", "system": True, "required": False},
    {"id": "bool256245529", "name": "verified", "type": "bool", "system": True, "required": False},
]
BASE_ID_FIELD = AUTH_SYSTEM_FIELDS[0]
SYSTEM_FIELD_NAMES = {f["name"] for f in AUTH_SYSTEM_FIELDS}


class SchemaError(Exception):
    """schema.yaml is not valid."""


def crc32(text: str) -> int:
    return zlib.crc32(text.encode())


def collection_id(spec: dict) -> str:
    return spec.get("id") or f"pbc_{crc32(spec['name'])}"


def field_id(spec: dict) -> str:
    return spec.get("id") or f"{spec['type']}{crc32(spec['name'])}"


def load_schema(path: Path = SCHEMA_PATH) -> dict:
    """Read schema.yaml."""
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)



def _rule(value, aliases: dict) -> str | None:
    if value is None:
        return None
    for alias, expression in aliases.items():
        value = value.replace("{" + alias + "}", expression)
    return value


def _field(spec: dict) -> dict:
    kind = spec["type"]
    field = {"id": field_id(spec), "name": spec["name"], "type": kind, "system": False,
             "hidden": bool(spec.get("hidden", False)), "presentable": False,
             "required": bool(spec.get("required", False))}
    if kind == "text":
        field.update(min=spec.get("min", 0), max=spec.get("max", 0), pattern=spec.get("pattern", ""),
                     autogeneratePattern="", primaryKey=False)
    elif kind == "number":
        field.update(min=spec.get("min"), max=spec.get("max"), onlyInt=bool(spec.get("only_int", False)))
    elif kind == "file":
        field.update(maxSelect=spec.get("max_select", 1), maxSize=spec.get("max_size", 0),
                     mimeTypes=list(spec.get("mime_types", [])), thumbs=[], protected=False)
    elif kind == "select":
        field.update(maxSelect=spec.get("max_select", 1), values=list(spec["values"]))
    elif kind == "autodate":
        del field["required"]  # PocketBase's autodate fields have no such option
        field.update(onCreate=bool(spec.get("on_create", True)), onUpdate=bool(spec.get("on_update", False)))
    elif kind == "json":
        field.update(maxSize=spec.get("max_size", 0))
    elif kind == "date":
        field.update(min="", max="")
    elif kind == "bool":
        pass
    else:
        raise SchemaError(f"field {spec['name']}: unsupported type {kind!r}")
    return field


def _index_sql(table: str, spec: dict) -> str:
    unique = "UNIQUE " if spec.get("unique") else ""
    columns = ", ".join(f"`{c}`" for c in spec["columns"])
    sql = f"CREATE {unique}INDEX `{spec['name']}` ON `{table}` ({columns})"
    if spec.get("where"):
        sql += f" WHERE {spec['where']}"
    return sql


def to_pocketbase(collection: dict, aliases: dict) -> dict:
    """One collection of schema.yaml as PocketBase's collection JSON."""
    name, kind = collection["name"], collection.get("type", "base")
    if kind == "view":
        return _view_to_pocketbase(collection, aliases)
    declared = [_field(f) for f in collection["fields"]]
    names = {f["name"] for f in declared}
    for auto in ("created", "updated"):
        if auto not in names:
            declared.append(_field({"name": auto, "type": "autodate", "on_create": True,
                                    "on_update": auto == "updated"}))
    rules = collection.get("rules", {})
    result = {
        "id": collection_id(collection), "name": name, "type": kind, "system": False,
        "listRule": _rule(rules.get("list"), aliases), "viewRule": _rule(rules.get("view"), aliases),
        "createRule": _rule(rules.get("create"), aliases), "updateRule": _rule(rules.get("update"), aliases),
        "deleteRule": _rule(rules.get("delete"), aliases),
        "indexes": [_index_sql(name, i) for i in collection.get("indexes", [])],
    }
    if kind == "auth":
        auth = collection.get("auth", {})
        system = [dict(f) for f in AUTH_SYSTEM_FIELDS]
        for field in system:
            field.setdefault("hidden", False)
            field.setdefault("presentable", False)
            if field["name"] == "password":
                field["cost"] = auth.get("password_cost", 0)
            if field["name"] == "email":
                field["required"] = bool(auth.get("email_required", True))
        result["fields"] = system + declared
        result["passwordAuth"] = {"enabled": bool(auth.get("password_auth", True)), "identityFields": ["email"]}
        result["authToken"] = {"duration": auth.get("token_duration", 604800)}
        # Who may authenticate (auth-refresh included): "" everyone, a filter on the record (a ban), None nobody.
        result["authRule"] = _rule(auth.get("auth_rule", ""), aliases)
        result["manageRule"] = None
        result["indexes"] = [
            f"CREATE UNIQUE INDEX `idx_tokenKey_{result['id']}` ON `{name}` (`tokenKey`)",
            f"CREATE UNIQUE INDEX `idx_email_{result['id']}` ON `{name}` (`email`) WHERE `email` != ''",
        ] + result["indexes"]
    else:
        base_id = dict(BASE_ID_FIELD, hidden=False, presentable=False)
        result["fields"] = [base_id] + declared
    return result


def _view_to_pocketbase(collection: dict, aliases: dict) -> dict:
    # PocketBase derives a view's fields from its query each time it saves the view.
    rules = collection.get("rules", {})
    return {
        "id": collection_id(collection), "name": collection["name"], "type": "view", "system": False,
        "listRule": _rule(rules.get("list"), aliases), "viewRule": _rule(rules.get("view"), aliases),
        "createRule": None, "updateRule": None, "deleteRule": None,
        "viewQuery": collection["query"], "fields": [], "indexes": [],
    }


def collections_json(schema: dict) -> list[dict]:
    """All collections of schema.yaml as PocketBase JSON, in file order."""
    aliases = schema.get("rule_aliases", {})
    return [to_pocketbase(c, aliases) for c in schema["collections"]]

