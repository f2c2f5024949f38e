"""nginx's one-second cache of the public lists (docs/performance.md, "Feed cache"): which collections it
covers, read from schema.yaml, and the two blocks ops/nginx_conf.py renders into the templates.

A burst of mini-programs opening the same feed at once costs PocketBase one evaluation per distinct URL and
second instead of one per reader. The cache key carries nginx's clock second, so an answer is served only in
the second its evaluation started: at most 1 s old (plus that evaluation's own time). proxy_cache_use_stale
is not used: nginx counts validity in whole seconds, so a stale answer could be nearly 2 s old.
"""
from __future__ import annotations

from ops.schema.pocketbase_json import load_schema

ZONE = "public_lists"
WRITES = ("create", "update", "delete")


def cached_collections(schema: dict | None = None) -> list[str]:
    """Collections whose list rule is public ('') and none of whose writes is: a reader without a token never
    writes them, and every writer sends Authorization, which bypasses the cache, so a writer reads its write
    at once and everyone else within a second."""
    collections = (schema or load_schema())["collections"]
    return sorted(c["name"] for c in collections
                  if c.get("rules", {}).get("list") == "" and all(c["rules"].get(w) != "" for w in WRITES))


def cache_http(cache_dir: str) -> str:
    """The http-level zone (10 MiB of keys, entries dropped 10 s after their last use)."""
    return (f'proxy_cache_path "{cache_dir}" levels=1:2 keys_zone={ZONE}:10m max_size=256m inactive=10s '
            "use_temp_path=off;")


def cache_locations() -> str:
    """One exact location per cached collection's records list, in the API server block."""
    blocks = []
    for name in cached_collections():
        blocks.append(f"""location = /pb/api/collections/{name}/records {{
    proxy_pass http://pocketbase/api/collections/{name}/records;
    proxy_cache {ZONE};
    proxy_cache_key "$request_uri $http_origin $time_iso8601";
    proxy_cache_valid 200 1s;
    proxy_cache_lock on;
    proxy_cache_bypass $http_authorization;
    proxy_no_cache $http_authorization;
    client_max_body_size ${{PB_BODY_MAX}};
    client_body_buffer_size 128k;
    proxy_read_timeout 60s;
    error_page 413 = @pocketbase_413;
    error_page 502 503 = @pocketbase_502;
    error_page 504 = @pocketbase_504;
}}""")
    header = ("# The public lists' GET, cached 1 s for requests without Authorization (ops/nginx_cache.py, from\n"
              "# schema.yaml; docs/performance.md, \"Feed cache\"). The key's clock second bounds an answer's age;\n"
              "# the lock makes one evaluation per URL and second, the others wait for it. Writes pass through.")
    return "\n".join([header, *blocks]) if blocks else ""
