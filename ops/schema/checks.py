"""make schema-check: the generated files current (pb_migrations/ with schema.yaml; sidecar/domain.py and
pb_hooks/lib/domain.js with vocabulary.yaml; pb_hooks/lib/settings.js with ops/settings.py), and every stored field
the spec names declared."""
from __future__ import annotations

from pathlib import Path

import yaml

from ops.schema.domain import render_generated, stale_generated
from ops.schema.migrations import MIGRATIONS_DIR, generated_files, render_migrations
from ops.schema.pocketbase_json import ROOT, SCHEMA_PATH, SchemaError, load_schema

SPEC_PATH = ROOT / "spec" / "openapi-wx.yaml"

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
    wanted, present = render_migrations(schema), generated_files(migrations_dir)
    if wanted != present:
        problems.append("pb_migrations/ is stale against schema.yaml: run `make schema` "
                        f"(expected {sorted(wanted)}, found {sorted(present)})")
    try:
        stale = stale_generated(render_generated(schema_path=schema_path))
    except SchemaError as exc:
        problems.append(str(exc))
    else:
        problems += [f"{name} is stale against vocabulary.yaml / ops/settings.py: run `make schema`" for name in stale]
    declared = {c["name"]: {f["name"] for f in c.get("fields", [])} for c in schema["collections"]}
    for collection, names in spec_field_names(spec_path).items():
        missing = sorted(names - declared.get(collection, set()))
        if missing:
            problems.append(f"{collection}: fields named by the spec but missing from schema.yaml: {missing}")
    return problems
