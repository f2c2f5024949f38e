"""The scenarios of `make bench` (our routes and PocketBase's native baselines) and where each one aims."""
from __future__ import annotations

SCENARIOS = [
    # name, script, label, via ("nginx" | "direct")
    ("login_returning", "login_returning.lua", "login (returning user)", "nginx"),
    ("login_new", "login_new.lua", "login (new user burst)", "nginx"),
    ("profile", "profile.lua", "profile update", "nginx"),
    ("profile_name", "profile_name.lua", "profile update, name checked", "nginx"),
    ("refresh_token", "refresh_token.lua", "refresh-token", "nginx"),
    ("users_count", "users_count.lua", "users-count", "nginx"),
    ("native_refresh_nginx", "native_refresh.lua", "native auth-refresh via nginx", "nginx"),
    ("native_refresh_direct", "native_refresh.lua", "native auth-refresh direct", "direct"),
    ("native_list_nginx", "native_list.lua", "native list tbl_company via nginx", "nginx"),
    ("native_list_direct", "native_list.lua", "native list tbl_company direct", "direct"),
    ("upload", "upload.lua", "upload (300 KB phone photo)", "nginx"),
    ("native_upload_nginx", "native_upload.lua", "native create tbl_attachments via nginx", "nginx"),
]
# Each route's req/s is compared with its baseline's at the same connection count.
BASELINE = {"login_returning": "native_refresh_nginx", "login_new": "native_refresh_nginx",
            "profile": "native_refresh_nginx", "profile_name": "native_refresh_nginx",
            "refresh_token": "native_refresh_nginx",
            "users_count": "native_list_nginx", "native_list_nginx": "native_list_direct",
            "native_refresh_nginx": "native_refresh_direct", "upload": "native_upload_nginx"}


# The sidecar's settings for the bench: content security off (the profile cell measures the route without it) ...
BENCH_SIDECAR_SETTINGS = {"CONTENT_SECURITY": "off"}
# ... but for the cells that measure it: the name goes through msg_sec_check (the dev stub answers at once).
SCENARIO_SIDECAR_SETTINGS = {"profile_name": {"CONTENT_SECURITY": "on"}}


def sidecar_settings(name: str) -> dict[str, str]:
    """The sidecar's settings a scenario runs with (bench/stack_setup.py configure_sidecars applies them)."""
    return {**BENCH_SIDECAR_SETTINGS, **SCENARIO_SIDECAR_SETTINGS.get(name, {})}


def select(only: str) -> list[tuple]:
    """The scenarios named in a comma-separated list (all of them when it is empty)."""
    names = set(filter(None, only.split(",")))
    return [s for s in SCENARIOS if not names or s[0] in names]


def scenario_url(script: str, via: str, base_url: str, pb_url: str) -> str:
    """The URL wrk loads: through nginx (under /pb) or straight at PocketBase."""
    base = base_url if via == "nginx" else pb_url
    if script == "native_refresh.lua":
        return base + ("/pb" if via == "nginx" else "") + "/api/collections/tbl_auth_users/auth-refresh"
    if script == "native_upload.lua":
        return base + ("/pb" if via == "nginx" else "") + "/api/collections/tbl_attachments/records"
    if script == "users_count.lua":
        return base + "/pb/api/system/users-count"
    return base + "/"
