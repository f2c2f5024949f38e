"""schema.yaml <-> PocketBase: generate migrations, check them, diff and pull a live instance.

    python -m ops.schema generate           write pb_migrations/ from schema.yaml
    python -m ops.schema check [--spec F]   exit 1 when pb_migrations/ is stale or a spec field is missing
    python -m ops.schema diff  URL          compare schema.yaml with a running PocketBase
    python -m ops.schema pull  URL          write the running PocketBase's collections into schema.yaml
"""
from __future__ import annotations

import argparse
import difflib
import hashlib
import json
import sys
import zlib
from pathlib import Path

import requests
import yaml

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_PATH = ROOT / "schema.yaml"
MIGRATIONS_DIR = ROOT / "pb_migrations"
SPEC_PATH = ROOT / "spec" / "openapi-wx.yaml"
GENERATED_PREFIXES = ("1700000000_app_settings_", "1700000001_collections_")
REFERENCE_LINE = '/// <reference path="../pb_data/types.d.ts" />'

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

# Fields of the spec that are computed by the sidecar, not stored.
COMPUTED_USERINFO_FIELDS = {"pb_id", "users_phone_masked", "company", "users_picture_url", "users_id_pic_a_url",
                            "users_id_pic_b_url", "users_title_picture_url"}
RECORD_META_FIELDS = {"id", "collectionId", "collectionName", "created", "updated"}
SPEC_SCHEMAS = {
    "tbl_auth_users": ["UserInfo"],
    "tbl_company": ["PocketBaseCompanyFields", "PocketBaseCompanyCreateRequest", "CompanyInfo"],
    "tbl_attachments": ["PocketBaseAttachmentRecord"],
    "tbl_document": ["PocketBaseDocumentFields"],
}


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


# ---------------------------------------------------------------- schema.yaml -> PocketBase JSON

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
        result["authRule"] = ""
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


# ---------------------------------------------------------------- migrations

def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def _collections_migration(schema: dict) -> str:
    snapshot = json.dumps(collections_json(schema), ensure_ascii=False, indent=2)
    return f"""{REFERENCE_LINE}
// Generated by `make schema` from schema.yaml. Do not edit: edit schema.yaml and regenerate.
// Imports every collection (matched by id, so renamed fields keep their data) and deletes the
// non-system collections that schema.yaml does not declare.
migrate((app) => {{
  const snapshot = {snapshot};

  return app.importCollections(snapshot, true);
}}, (app) => {{
  return null;
}})
"""


def _settings_migration(schema: dict) -> str:
    settings = schema["settings"]
    rate = settings["rate_limits"]
    rules = [{"label": r["label"], "audience": r.get("audience", ""), "duration": r["duration"],
              "maxRequests": r["max_requests"]} for r in rate["rules"]]
    return f"""{REFERENCE_LINE}
// Generated by `make schema` from the settings section of schema.yaml. Do not edit.
migrate((app) => {{
  const settings = app.settings();

  settings.meta.appName = {json.dumps(settings["app_name"], ensure_ascii=False)};
  const publicBaseUrl = $os.getenv({json.dumps(settings["app_url_env"])}) || {json.dumps(settings["app_url_default"])};
  settings.meta.appURL = publicBaseUrl.replace(/\\/+$/, "") + "/pb";

  // nginx in front sets X-Real-IP; without this every client would look like 127.0.0.1.
  settings.trustedProxy.headers = {json.dumps(settings["trusted_proxy_headers"])};
  settings.trustedProxy.useLeftmostIP = false;

  settings.rateLimits.enabled = {json.dumps(bool(rate["enabled"]))};
  settings.rateLimits.rules = {json.dumps(rules, ensure_ascii=False)};
  settings.rateLimits.excludedIPs = {json.dumps(rate.get("excluded_ips", []))};

  settings.batch.enabled = {json.dumps(bool(settings["batch"]["enabled"]))};
  settings.batch.maxRequests = {int(settings["batch"]["max_requests"])};

  app.save(settings);
}}, (app) => {{
  return null;
}})
"""


def render_migrations(schema: dict) -> dict[str, str]:
    """File name -> content of every generated migration; names carry a digest of the content."""
    settings_js = _settings_migration(schema)
    collections_js = _collections_migration(schema)
    return {
        f"{GENERATED_PREFIXES[0]}{_digest(settings_js)}.js": settings_js,
        f"{GENERATED_PREFIXES[1]}{_digest(collections_js)}.js": collections_js,
    }


def _generated_files(migrations_dir: Path) -> dict[str, str]:
    if not migrations_dir.exists():
        return {}
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(migrations_dir.glob("*.js"))
            if p.name.startswith(GENERATED_PREFIXES)}


def generate(schema_path: Path = SCHEMA_PATH, migrations_dir: Path = MIGRATIONS_DIR) -> list[str]:
    """Write the migrations for schema_path, remove stale generated ones; return the changed names."""
    wanted = render_migrations(load_schema(schema_path))
    present = _generated_files(migrations_dir)
    migrations_dir.mkdir(parents=True, exist_ok=True)
    changed = []
    for name in present.keys() - wanted.keys():
        (migrations_dir / name).unlink()
        changed.append(f"removed {name}")
    for name, text in wanted.items():
        if present.get(name) != text:
            (migrations_dir / name).write_text(text, encoding="utf-8")
            changed.append(f"wrote {name}")
    return changed


def spec_field_names(spec_path: Path) -> dict[str, set[str]]:
    """Per collection, the stored field names that the spec's schemas name."""
    spec = yaml.safe_load(spec_path.read_text(encoding="utf-8"))["components"]["schemas"]
    wanted: dict[str, set[str]] = {}
    for collection, schema_names in SPEC_SCHEMAS.items():
        names: set[str] = set()
        for schema_name in schema_names:
            schema = spec[schema_name]
            for part in [schema] + schema.get("anyOf", []) + schema.get("allOf", []):
                names |= set(part.get("properties", {}))
        wanted[collection] = names - RECORD_META_FIELDS - COMPUTED_USERINFO_FIELDS - {"pb_id"}
    return wanted


def check(schema_path: Path = SCHEMA_PATH, migrations_dir: Path = MIGRATIONS_DIR,
          spec_path: Path = SPEC_PATH) -> list[str]:
    """Problems: stale migrations, spec fields missing from schema.yaml. Empty when all is well."""
    schema = load_schema(schema_path)
    problems = []
    wanted, present = render_migrations(schema), _generated_files(migrations_dir)
    if wanted != present:
        problems.append("pb_migrations/ is stale against schema.yaml: run `make schema` "
                        f"(expected {sorted(wanted)}, found {sorted(present)})")
    declared = {c["name"]: {f["name"] for f in c.get("fields", [])} for c in schema["collections"]}
    for collection, names in spec_field_names(spec_path).items():
        missing = sorted(names - declared.get(collection, set()))
        if missing:
            problems.append(f"{collection}: fields named by the spec but missing from schema.yaml: {missing}")
    return problems


# ---------------------------------------------------------------- live PocketBase -> schema.yaml

def _live_collections(url: str, token: str) -> list[dict]:
    response = requests.get(f"{url}/api/collections", params={"perPage": 500, "sort": "created"},
                            headers={"Authorization": token}, timeout=10)
    response.raise_for_status()
    return [c for c in response.json()["items"] if not c.get("system")]


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
    return out


def _index_to_yaml(sql: str) -> dict:
    import re
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.schema")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("generate")
    check_parser = sub.add_parser("check")
    check_parser.add_argument("--spec", type=Path, action="append")
    for name in ("diff", "pull"):
        live = sub.add_parser(name)
        live.add_argument("url", nargs="?", help="PocketBase URL (default: PB_URL, else the stack's PB_PORT)")
    args = parser.parse_args(argv)

    if args.command == "generate":
        for line in generate() or ["pb_migrations/ is up to date"]:
            print(line)
        return 0
    if args.command == "check":
        problems = []
        for spec in args.spec or [SPEC_PATH]:
            problems += check(spec_path=spec)
        for problem in dict.fromkeys(problems):
            print(f"schema-check: {problem}", file=sys.stderr)
        if not problems:
            print("schema-check: pb_migrations/ matches schema.yaml; every spec field is declared")
        return 1 if problems else 0

    # The same superuser and URL as make backup/restore: environment, .env, or pb_data's password file.
    from ops.stack import StackConfig, StackError, admin_pb_url, superuser_token
    try:
        config = StackConfig.from_env(generate_password=False)
        args.url = (args.url or admin_pb_url(config)).rstrip("/")
        token = superuser_token(args.url, config)
    except StackError as exc:
        print(f"schema-{args.command}: {exc}", file=sys.stderr)
        return 2
    if args.command == "diff":
        text = diff(args.url, token)
        print(text or "schema-diff: the running PocketBase matches schema.yaml")
        return 1 if text else 0
    pull(args.url, token)
    print(f"schema-pull: wrote {SCHEMA_PATH.name}; review with `git diff`, then `make schema`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
