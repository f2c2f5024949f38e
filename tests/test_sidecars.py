"""Several sidecars behind one nginx (SIDECAR_UPSTREAMS): the contract flow with requests alternating between them."""
from __future__ import annotations

import pytest

from ops.processes import free_ports
from ops.nginx_conf import render_nginx_conf
from ops.stack_config import StackConfig, StackError
from tests.helpers import assert_envelope, route


def config_with(tmp_path, **settings) -> StackConfig:
    base = {"PB_DATA_DIR": str(tmp_path), "PB_SUPERUSER_PASSWORD": "x" * 12, "SIDECAR_PORT": "8000"}
    return StackConfig.from_env({**base, **settings}, dotenv_path=None)


def test_the_sidecar_upstream_is_the_rendered_list(tmp_path):
    config = config_with(tmp_path, SIDECAR_UPSTREAMS="127.0.0.1:8000, 10.0.0.7:8000,127.0.0.1:8001")
    rendered = render_nginx_conf(config)
    upstream = rendered.split("upstream sidecar {", 1)[1].split("}", 1)[0]
    servers = [line.strip() for line in upstream.splitlines() if line.strip().startswith("server ")]
    assert servers == ["server 127.0.0.1:8000;", "server 10.0.0.7:8000;", "server 127.0.0.1:8001;"]
    # This machine runs the local ones; 10.0.0.7 is another machine's sidecar.
    assert config.local_sidecar_ports == [8000, 8001]
    assert config_with(tmp_path).sidecar_upstreams == ("127.0.0.1:8000",)


@pytest.mark.parametrize("value, words", [
    ("127.0.0.1:8000,sidecar-b", "host:port entries"),
    ("127.0.0.1:8000,10.0.0.7:99999", "host:port entries"),
    ("10.0.0.7:8000", "must include this stack's own sidecar"),
    ("127.0.0.1:8000,127.0.0.1:8090", "must differ"),
])
def test_bad_sidecar_upstreams_are_refused(tmp_path, value, words):
    with pytest.raises(StackError, match=words):
        config_with(tmp_path, SIDECAR_UPSTREAMS=value, PB_PORT="8090")


def served_by(stack) -> dict[str, str]:
    """request id -> the sidecar (log file name) that logged it."""
    owners = {}
    for log in stack.run_dir.glob("sidecar*.log"):
        for line in log.read_text(errors="replace").splitlines():
            if '"request_id": "' in line:
                owners[line.split('"request_id": "', 1)[1].split('"', 1)[0]] = log.stem
    return owners


@pytest.mark.slow
def test_the_contract_flow_works_with_two_sidecars_answering_in_turn(make_stack):
    http_port, pb_port, first, second = free_ports(4)
    stack = make_stack(HTTP_PORT=http_port, PB_PORT=pb_port, SIDECAR_PORT=first,
                       SIDECAR_UPSTREAMS=f"127.0.0.1:{first},127.0.0.1:{second}", SIDECAR_WORKERS=1)
    assert {"sidecar", f"sidecar-{second}"} <= set(stack.processes)
    steps = []  # (request id, what it was) in order
    for n in range(4):
        login = route(stack, "wechat/login", json={"users_wx_code": f"turns-{n}"})
        assert_envelope(login, 200)
        token = login.json()["token"]
        steps.append((login.headers["X-Request-Id"], "login"))
        profile = route(stack, "wechat/profile", token=token,
                        json={"users_name": f"轮流{n}", "users_phone_code": f"phone-1390000000{n}"})
        assert_envelope(profile, 200)
        assert profile.json()["data"]["user"]["users_type"] == "注册用户"
        steps.append((profile.headers["X-Request-Id"], "profile"))
        refreshed = route(stack, "system/refresh-token", token=token)
        assert_envelope(refreshed, 200)
        steps.append((refreshed.headers["X-Request-Id"], "refresh"))
        count = route(stack, "system/users-count")
        assert_envelope(count, 200)
        steps.append((count.headers["X-Request-Id"], "users-count"))
    owners = served_by(stack)
    sequence = [owners[request_id] for request_id, _ in steps]
    assert set(sequence) == {"sidecar", f"sidecar-{second}"}, sequence
    # A token minted by one sidecar was honoured by the other: nothing a request needs lives in one process.
    handoffs = sum(1 for before, after in zip(sequence, sequence[1:]) if before != after)
    assert handoffs >= 2, sequence
