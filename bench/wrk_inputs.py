"""The files the wrk scripts read: user tokens from our login route and the seeded company ids."""
from __future__ import annotations

from pathlib import Path

import requests

from bench.seed_sql import company_bid

N_TOKENS = 64                     # seeded users whose tokens the profile/refresh scenarios rotate over


def login_tokens(base_url: str, n: int, n_users: int) -> list[str]:
    """What the sidecar hands out: our login route's (refreshable) tokens for n seeded users."""
    session = requests.Session()
    tokens = []
    for i in range(n):
        r = session.post(f"{base_url}/pb/api/wechat/login", json={"users_wx_code": f"benchuser{i * 37 % n_users}"},
                         timeout=30)
        r.raise_for_status()
        tokens.append(r.json()["token"])
    return tokens


def token_files(base_url: str, tmp: Path, n_users: int, n_companies: int) -> dict[str, Path]:
    """The files the wrk scripts read: user tokens (ours, also used by the native auth-refresh) and company ids."""
    tokens_file = tmp / "user_tokens.txt"
    tokens_file.write_text("\n".join(login_tokens(base_url, N_TOKENS, n_users)) + "\n")
    companies_file = tmp / "companies.txt"
    companies_file.write_text("\n".join(company_bid(i) for i in range(n_companies)) + "\n")
    return {"tokens": tokens_file, "companies": companies_file}
