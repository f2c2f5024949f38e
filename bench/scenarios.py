"""The scenarios of the benches: our routes, PocketBase's native baselines and the document feed, and how
each one is sent (bench/scenarios.lua builds the requests)."""
from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote

from bench.seed import dict_id

# The mini-program's document feed (the spec's heaviest read): newest first, and of one type in the spec's
# documented filter form; both with totalItems.
FEED = "/api/collections/tbl_document/records?sort=-document_create"
FEED_TYPED = FEED + "&filter=" + quote(f'document_type ~ "{dict_id(0)}" && document_type ~ "@UT1"')


@dataclass(frozen=True)
class Scenario:
    name: str
    label: str
    request: str                  # its builder in bench/scenarios.lua
    via: str = "nginx"            # or "direct": straight at PocketBase
    path: str = ""                # the URL wrk is given, after the base (the feed requests send it)
    baseline: str | None = None   # the scenario whose req/s it is compared with
    conns: int | None = None      # its one connection count (else the run's)
    settings: dict = field(default_factory=dict)   # the sidecar's, for this scenario only


SCENARIOS = [
    Scenario("login_returning", "login (returning user)", "login_returning", baseline="native_refresh_nginx"),
    Scenario("login_new", "login (new user burst)", "login_new", baseline="native_refresh_nginx"),
    Scenario("profile", "profile update", "profile", baseline="native_refresh_nginx"),
    Scenario("profile_name", "profile update, name checked", "profile_name", baseline="native_refresh_nginx",
             settings={"CONTENT_SECURITY": "on"}),
    Scenario("refresh_token", "refresh-token", "refresh_token", baseline="native_refresh_nginx"),
    Scenario("users_count", "users-count", "users_count", baseline="native_list_nginx"),
    Scenario("native_refresh_nginx", "native auth-refresh via nginx", "native_refresh",
             baseline="native_refresh_direct"),
    Scenario("native_refresh_direct", "native auth-refresh direct", "native_refresh", via="direct"),
    Scenario("native_list_nginx", "native list tbl_company via nginx", "native_list", baseline="native_list_direct"),
    Scenario("native_list_direct", "native list tbl_company direct", "native_list", via="direct"),
    Scenario("upload", "upload (300 KB phone photo)", "upload", baseline="native_upload_nginx"),
    Scenario("native_upload_nginx", "native create tbl_attachments via nginx", "native_upload"),
    # One request at a time: what one evaluation costs (at 1M documents, seconds: a burst would finish none).
    Scenario("feed_direct", "document feed, newest first, direct", "feed", via="direct", path=FEED, conns=1),
    Scenario("feed_type_direct", "document feed of one type, direct", "feed", via="direct", path=FEED_TYPED,
             conns=1),
    Scenario("feed_type_token", "document feed of one type, signed in, via nginx (not cached)", "feed_token",
             path=FEED_TYPED),
    Scenario("feed_type_cached", "document feed of one type, guest, via nginx (cached)", "feed",
             path=FEED_TYPED, baseline="feed_type_token"),
]
BY_NAME = {s.name: s for s in SCENARIOS}


def select(only: str) -> list[Scenario]:
    """The scenarios named in a comma-separated list (all of them when it is empty)."""
    names = set(filter(None, only.split(",")))
    unknown = names - set(BY_NAME)
    if unknown:
        raise SystemExit(f"unknown scenarios {sorted(unknown)}; known: {', '.join(BY_NAME)}")
    return [s for s in SCENARIOS if not names or s.name in names]
