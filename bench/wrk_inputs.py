"""The files the wrk scripts read: user tokens from our login route, the seeded company ids, and for the
upload cells the phone photo and a superuser token."""
from __future__ import annotations

from pathlib import Path

import requests

from bench.photo import phone_photo
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


def upload_files(tmp: Path, superuser_token: str) -> dict[str, Path]:
    """The upload cells' files: the phone photo (bench/photo.py) and the superuser token of the native create."""
    photo = tmp / "photo.jpg"
    photo.write_bytes(phone_photo())
    superuser = tmp / "superuser_token.txt"
    superuser.write_text(superuser_token + "\n")
    return {"photo": photo, "superuser": superuser}
