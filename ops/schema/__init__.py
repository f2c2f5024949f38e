"""schema.yaml <-> PocketBase: generate migrations, check them, diff and pull a live instance.

    python -m ops.schema generate           write pb_migrations/ from schema.yaml
    python -m ops.schema check [--spec F]   exit 1 when pb_migrations/ is stale or a spec field is missing
    python -m ops.schema diff  URL          compare schema.yaml with a running PocketBase
    python -m ops.schema pull  URL          write the running PocketBase's collections into schema.yaml

Modules: pocketbase_json (schema.yaml -> PocketBase's collection JSON), migrations (pb_migrations/),
checks (staleness and spec coverage), live (diff and pull a running PocketBase), cli.
"""
from ops.schema.checks import SPEC_PATH, check, spec_field_names
from ops.schema.live import diff, from_pocketbase, pull
from ops.schema.migrations import MIGRATIONS_DIR, generate, render_migrations
from ops.schema.pocketbase_json import (
    ROOT, SCHEMA_PATH, SchemaError, collection_id, collections_json, crc32, field_id, load_schema, to_pocketbase,
)

__all__ = ["MIGRATIONS_DIR", "ROOT", "SCHEMA_PATH", "SPEC_PATH", "SchemaError", "check", "collection_id",
           "collections_json", "crc32", "diff", "field_id", "from_pocketbase", "generate", "load_schema", "pull",
           "render_migrations", "spec_field_names", "to_pocketbase"]
