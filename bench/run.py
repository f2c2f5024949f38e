"""`make bench`: start the whole stack on free ports with a temp data dir, seed it, load it with wrk.

    python -m bench.run [--duration 5] [--conns 1,8,32] [--only login_returning,...] [--profile]

Writes bench/results.md (the table, machine, versions, targets) and keeps every wrk output in bench/raw/.
Environment: SIDECAR_WORKERS / SIDECAR_THREADS tune gunicorn as for `make run`.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import platform
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from bench.seed_sql import TINY_PNG, attachment_bid, company_bid
from ops.processes import ROOT, free_port, proc_stat
from ops.stack import Stack, StackConfig, process_group_members

BENCH = ROOT / "bench"
RAW = BENCH / "raw"
N_USERS, N_COMPANIES, N_DOCUMENTS = 10_000, 1_000, 5_000
N_FILE_ATTACHMENTS = 600          # attachment records with a real (tiny) uploaded file; the rest have none
N_TOKENS = 64                     # seeded users whose tokens the profile/refresh scenarios rotate over
BATCH = 500                       # records per /api/batch call during the seed


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ----------------------------------------------------------------------------------------------- seed

class Seeder:
    def __init__(self, pb_url: str, token: str):
        self.url = pb_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = token
        self.token = token

    def batch(self, reqs: list[dict], files: dict | None = None) -> None:
        if files:
            r = requests.post(self.url + "/api/batch", headers={"Authorization": self.token},
                              data={"@jsonPayload": json.dumps({"requests": reqs})}, files=files, timeout=300)
        else:
            r = requests.post(self.url + "/api/batch", headers={"Authorization": self.token},
                              json={"requests": reqs}, timeout=300)
        if r.status_code != 200:
            raise RuntimeError(f"batch failed: HTTP {r.status_code} {r.text[:600]}")

    def create_many(self, collection: str, bodies: list[dict], workers: int = 2) -> None:
        url = f"/api/collections/{collection}/records"
        chunks = [bodies[i:i + BATCH] for i in range(0, len(bodies), BATCH)]
        with cf.ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda chunk: self.batch([{"method": "POST", "url": url, "body": b} for b in chunk]),
                          chunks))

    def count(self, collection: str) -> int:
        r = self.session.get(f"{self.url}/api/collections/{collection}/records",
                             params={"perPage": 1, "fields": "id"}, timeout=30)
        r.raise_for_status()
        return r.json()["totalItems"]


def seed(pb_url: str, token: str) -> dict:
    s = Seeder(pb_url, token)
    t0 = time.monotonic()
    settings = s.session.get(pb_url + "/api/settings", timeout=10).json()
    batch_before = settings.get("batch", {})
    r = s.session.patch(pb_url + "/api/settings", json={"batch": {
        "enabled": True, "maxRequests": BATCH, "timeout": 120, "maxBodySize": 128 << 20}}, timeout=10)
    r.raise_for_status()
    log(f"batch settings {batch_before} -> maxRequests={BATCH} for the seed")

    companies = [{
        "company_id": company_bid(i), "company_name": f"基准测试公司{i}有限公司", "company_type": "有限责任公司",
        "company_entity": f"法人{i}", "company_usci": f"91310000{i:010d}", "company_nationality": "中国",
        "company_nationality_code": "CN", "company_province": "上海市", "company_province_code": "310000",
        "company_city": "上海市", "company_city_code": "310100", "company_district": "浦东新区",
        "company_district_code": "310115", "company_postalcode": "200120",
        "company_add": f"世纪大道{i}号", "company_status": "有效", "company_level": "A",
        "company_owner_openid": f"dev-openid-benchuser{i * 2}", "company_remark": "bench seed",
    } for i in range(N_COMPANIES)]
    s.create_many("tbl_company", companies)
    log(f"seeded {N_COMPANIES} companies")

    # Users 0, 2, 4, ... (half of them) belong to a company and have three attachments each.
    n_att = (N_USERS // 2) * 3
    plain = [{
        "attachments_id": attachment_bid(i), "attachments_filename": f"bench{i}.png",
        "attachments_filetype": "image/png", "attachments_size": len(TINY_PNG),
        "attachments_owner": f"dev-openid-benchuser{(i // 3) * 2}", "attachments_status": "有效",
    } for i in range(n_att)]
    with_file, without_file = plain[:N_FILE_ATTACHMENTS], plain[N_FILE_ATTACHMENTS:]
    url = "/api/collections/tbl_attachments/records"
    for start in range(0, len(with_file), 100):
        chunk = with_file[start:start + 100]
        files = [(f"requests.{j}.attachments_link", (f"bench{start + j}.png", TINY_PNG, "image/png"))
                 for j in range(len(chunk))]
        s.batch([{"method": "POST", "url": url, "body": b} for b in chunk], files=files)
    s.create_many("tbl_attachments", without_file)
    log(f"seeded {n_att} attachments ({N_FILE_ATTACHMENTS} with an uploaded file, the rest metadata only)")

    users = []
    for i in range(N_USERS):
        password = secrets.token_urlsafe(18)
        body = {"openid": f"dev-openid-benchuser{i}", "unionid": f"dev-unionid-benchuser{i}",
                "users_idtype": "WeChat", "users_type": "游客", "users_status": "正常", "users_rank_level": 1,
                "users_auth_type": 0, "users_level": "1", "users_tag": "seed",
                "password": password, "passwordConfirm": password}
        if i % 2 == 0:
            a = (i // 2) * 3
            body.update(users_name=f"测试用户{i}", users_phone=f"139{i:08d}", users_type="注册用户",
                        company_id=company_bid((i // 2) % N_COMPANIES), users_picture=attachment_bid(a),
                        users_id_pic_a=attachment_bid(a + 1), users_id_pic_b=attachment_bid(a + 2))
        users.append(body)
    s.create_many("tbl_auth_users", users)
    log(f"seeded {N_USERS} users")

    docs = [{"document_title": f"基准文档 {i}", "document_type": "合同", "document_status": "有效",
             "document_owner": f"dev-openid-benchuser{i % N_USERS}"} for i in range(N_DOCUMENTS)]
    s.create_many("tbl_document", docs)
    log(f"seeded {N_DOCUMENTS} documents")

    # Back to the project's batch limit: the benchmark measures the stack as configured.
    s.session.patch(pb_url + "/api/settings", json={"batch": batch_before}, timeout=10).raise_for_status()
    counts = {c: s.count(c) for c in ("tbl_auth_users", "tbl_company", "tbl_attachments", "tbl_document")}
    return {"seconds": round(time.monotonic() - t0, 1), "counts": counts}


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


# ----------------------------------------------------------------------------------------------- wrk

def run_wrk(name: str, script: str, url: str, conns: int, duration: int, env: dict, tag: str = "") -> dict:
    threads = min(2, conns)
    argv = ["wrk", "-t", str(threads), "-c", str(conns), "-d", f"{duration}s", "--timeout", "10s",
            "-s", str(BENCH / script), url]
    full_env = dict(os.environ, BENCH_DIR=str(BENCH), **env)
    out = subprocess.run(argv, capture_output=True, text=True, env=full_env, timeout=duration + 60, cwd=ROOT)
    text = out.stdout + out.stderr
    (RAW / f"{tag.strip().replace(' ', '')}{name}-c{conns}.txt").write_text(" ".join(argv) + "\n" + text)
    match = re.search(r"^BENCH_JSON (.*)$", text, re.M)
    if not match:
        raise RuntimeError(f"wrk {name} c={conns} gave no summary:\n{text[-2000:]}")
    data = json.loads(match.group(1))
    seconds = data["duration_us"] / 1e6
    ok = sum(n for code, n in data["statuses"].items() if 200 <= int(code) < 300)
    socket_errors = sum(v for k, v in data["errors"].items() if k != "status")
    return {
        "name": name, "conns": conns, "rps": data["requests"] / seconds, "ok": ok, "requests": data["requests"],
        "non2xx": data["requests"] - ok, "socket_errors": socket_errors, "statuses": data["statuses"],
        "p50_ms": data["latency_us"]["p50"] / 1000, "p99_ms": data["latency_us"]["p99"] / 1000,
        "seconds": seconds,
    }


# ----------------------------------------------------------------------------------------------- facts

def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def memory(stack: Stack) -> dict:
    pb_pid = stack.processes["pocketbase"].pid
    master = stack.processes["sidecar"].pid
    members = process_group_members({master})
    workers = sorted(p for p in members if p != master and "gunicorn" in cmdline(p))
    return {"pocketbase_kb": rss_kb(pb_pid), "gunicorn_master_kb": rss_kb(master),
            "gunicorn_workers_kb": [rss_kb(p) for p in workers], "worker_pids": workers}


def cpu_seconds(stack: Stack) -> dict[str, float]:
    """CPU seconds (user + system) used so far by each of the stack's processes and their children."""
    tick = os.sysconf("SC_CLK_TCK")
    used = {}
    for name, process in stack.processes.items():
        ticks = 0
        for pid in process_group_members({process.pid}):
            fields = proc_stat(pid)
            if fields:
                ticks += int(fields[11]) + int(fields[12])  # utime, stime
        used[name] = ticks / tick
    return used


def first_line(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        return (out.stdout + out.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "?"


def machine_facts() -> dict:
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                if l.startswith("model name")), "?")
    mem_kb = next(int(l.split()[1]) for l in Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal"))
    from ops.processes import pocketbase_binary
    from ops.stack import nginx_binary
    return {
        "nproc": os.cpu_count(), "cpu": cpu, "memory": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "kernel": platform.release(),
        "pocketbase": first_line([pocketbase_binary(), "--version"]),
        "python": sys.version.split()[0],
        "gunicorn": first_line([sys.executable, "-m", "gunicorn", "--version"]),
        "nginx": first_line([nginx_binary(), "-v"]),
        "wrk": first_line(["wrk", "-v"]),
    }


# ----------------------------------------------------------------------------------------------- report

SCENARIOS = [
    # name, script, label, via ("nginx" | "direct")
    ("login_returning", "login_returning.lua", "login (returning user)", "nginx"),
    ("login_new", "login_new.lua", "login (new user burst)", "nginx"),
    ("profile", "profile.lua", "profile update", "nginx"),
    ("refresh_token", "refresh_token.lua", "refresh-token", "nginx"),
    ("users_count", "users_count.lua", "users-count", "nginx"),
    ("native_refresh_nginx", "native_refresh.lua", "native auth-refresh via nginx", "nginx"),
    ("native_refresh_direct", "native_refresh.lua", "native auth-refresh direct", "direct"),
    ("native_list_nginx", "native_list.lua", "native list tbl_company via nginx", "nginx"),
    ("native_list_direct", "native_list.lua", "native list tbl_company direct", "direct"),
]
BASELINE = {"login_returning": "native_refresh_nginx", "login_new": "native_refresh_nginx",
            "profile": "native_refresh_nginx", "refresh_token": "native_refresh_nginx",
            "users_count": "native_list_nginx", "native_list_nginx": "native_list_direct",
            "native_refresh_nginx": "native_refresh_direct"}


def table(results: dict, conns_list: list[int]) -> str:
    lines = ["| route | conns | req/s | p50 ms | p99 ms | p99/p50 | non-2xx | socket err | ratio to baseline |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for name, _, label, _ in SCENARIOS:
        for c in conns_list:
            r = results.get((name, c))
            if not r:
                continue
            base = results.get((BASELINE.get(name), c))
            ratio = f"{r['rps'] / base['rps']:.2f}x {BASELINE[name]}" if base and base["rps"] else ""
            extra = f" ({r['new_users']} new users, {r['new_users_per_s']:.0f}/s)" if "new_users" in r else ""
            lines.append(f"| {label}{extra} | {c} | {r['rps']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
                         f"{r['p99_ms'] / max(r['p50_ms'], 0.001):.1f} | {r['non2xx']} | {r['socket_errors']} | {ratio} |")
    return "\n".join(lines)


CPU_COLUMNS = [("sidecar", "sidecar (gunicorn)"), ("pocketbase", "PocketBase"), ("nginx", "nginx"),
               ("wechat_stub", "WeChat stub")]


def cpu_table(results: dict, conns: int) -> str:
    """CPU milliseconds per request spent in each process of the stack, at one connection count."""
    lines = ["| route | " + " | ".join(label for _, label in CPU_COLUMNS) + " | total |",
             "|---|" + "---:|" * (len(CPU_COLUMNS) + 1)]
    for name, _, label, _ in SCENARIOS:
        r = results.get((name, conns))
        if not r or "cpu_ms" not in r:
            continue
        cells = [r["cpu_ms"].get(key, 0.0) for key, _ in CPU_COLUMNS]
        lines.append(f"| {label} | " + " | ".join(f"{v:.2f}" for v in cells) + f" | {sum(cells):.2f} |")
    return "\n".join(lines)


def targets(results: dict, conns_list: list[int]) -> list[tuple[str, bool | None, str]]:
    out = []

    def ratio_target(label, name, base, minimum):
        for c in conns_list:
            r, b = results.get((name, c)), results.get((base, c))
            if r and b:
                value = r["rps"] / b["rps"]
                out.append((f"{label} >= {minimum}x {base} @ c={c}", value >= minimum, f"{value:.2f}x"))

    ratio_target("returning-user login", "login_returning", "native_refresh_nginx", 0.25)
    ratio_target("profile", "profile", "native_refresh_nginx", 0.2)
    ratio_target("refresh-token", "refresh_token", "native_refresh_nginx", 0.3)
    ratio_target("users-count", "users_count", "native_list_nginx", 0.4)
    for c in conns_list:
        r, b = results.get(("native_list_nginx", c)), results.get(("native_list_direct", c))
        if r and b:
            cost = 1 - r["rps"] / b["rps"]
            out.append((f"nginx overhead on native list <= 15% @ c={c}", cost <= 0.15, f"{cost * 100:.1f}%"))
    burst = results.get(("login_new", 32))
    if burst:
        ok = burst["new_users_per_s"] >= 300 and burst["non2xx"] == 0 and burst["socket_errors"] == 0
        out.append(("first-login burst @ c=32 >= 300 new users/s, 0 errors", ok,
                    f"{burst['new_users_per_s']:.0f}/s, {burst['non2xx'] + burst['socket_errors']} errors, "
                    f"{burst['new_users']} created for {burst['ok']} 2xx"))
    for name, _, label, _ in SCENARIOS:
        r = results.get((name, 32))
        if r:
            q = r["p99_ms"] / max(r["p50_ms"], 0.001)
            out.append((f"p99 <= 5x p50 @ c=32: {label}", q <= 5, f"{q:.1f}x ({r['p50_ms']:.1f}/{r['p99_ms']:.1f} ms)"))
    errors = sum(r["non2xx"] + r["socket_errors"] for r in results.values())
    out.append(("no errors anywhere", errors == 0, f"{errors} non-2xx/socket errors in total"))
    return out


# ----------------------------------------------------------------------------------------------- cells

def token_files(base_url: str, tmp: Path, n_users: int, n_companies: int) -> dict[str, Path]:
    """The files the wrk scripts read: user tokens (ours, also used by the native auth-refresh) and company ids."""
    tokens_file = tmp / "user_tokens.txt"
    tokens_file.write_text("\n".join(login_tokens(base_url, N_TOKENS, n_users)) + "\n")
    companies_file = tmp / "companies.txt"
    companies_file.write_text("\n".join(company_bid(i) for i in range(n_companies)) + "\n")
    return {"tokens": tokens_file, "companies": companies_file}


def warm_up(stack: Stack) -> None:
    """Warm up the sidecar (superuser session, collection ids) in every worker."""
    for i in range(40):
        requests.post(stack.base_url + "/pb/api/wechat/login", json={"users_wx_code": f"benchuser{i}"}, timeout=30)


def scenario_url(script: str, via: str, stack: Stack) -> str:
    base = stack.base_url if via == "nginx" else stack.config.pb_url
    if script == "native_refresh.lua":
        return base + ("/pb" if via == "nginx" else "") + "/api/collections/tbl_auth_users/auth-refresh"
    if script == "users_count.lua":
        return base + "/pb/api/system/users-count"
    return base + "/"


def run_scenarios(stack: Stack, files: dict[str, Path], scenarios: list, conns_list: list[int], duration: int,
                  n_users: int, tag: str = "") -> dict:
    """Run each scenario at each connection count: {(name, conns): wrk figures + CPU ms per request}."""
    pb_url = stack.config.pb_url
    counter = Seeder(pb_url, stack.pb.superuser_token())
    results = {}
    for name, script, label, via in scenarios:
        for c in conns_list:
            env = {"BENCH_USERS": str(n_users), "BENCH_COMPANIES": str(files["companies"]),
                   "BENCH_PREFIX": f"c{c}x{int(time.time())}",
                   "BENCH_TOKENS": str(files["tokens"]),
                   "BENCH_PATH_PREFIX": "/pb" if via == "nginx" else ""}
            before = counter.count("tbl_auth_users") if name == "login_new" else 0
            spies = []
            pyspy = os.environ.get("BENCH_PYSPY")  # a py-spy binary (temp venv): sample the workers
            if pyspy and name == "login_returning" and c == max(conns_list):
                for pid in memory(stack)["worker_pids"]:
                    spies.append(subprocess.Popen(
                        [pyspy, "record", "-p", str(pid), "-d", str(duration), "-r", "50", "-f", "raw",
                         "-o", str(RAW / f"pyspy-login-{pid}.txt"), "--nonblocking"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            cpu_before = cpu_seconds(stack)
            r = run_wrk(name, script, scenario_url(script, via, stack), c, duration, env, tag)
            cpu_after = cpu_seconds(stack)
            r["cpu_ms"] = {k: (cpu_after[k] - cpu_before.get(k, 0.0)) * 1000 / max(r["requests"], 1)
                           for k in cpu_after}
            for spy in spies:
                spy.wait(timeout=60)
            if name == "login_new":
                r["new_users"] = counter.count("tbl_auth_users") - before
                r["new_users_per_s"] = r["new_users"] / r["seconds"]
            results[(name, c)] = r
            log(f"{tag}{label:38s} c={c:<3d} {r['rps']:8.1f} req/s  p50 {r['p50_ms']:7.1f} ms  "
                f"p99 {r['p99_ms']:7.1f} ms  non-2xx {r['non2xx']}  sock {r['socket_errors']}"
                + (f"  new users {r['new_users']}" if "new_users" in r else ""))
    return results


# ----------------------------------------------------------------------------------------------- main

def bench_config(tmp: Path) -> StackConfig:
    """A stack on free ports with its data and run dirs in tmp, no rate limits, the WeChat dev stub."""
    http_port = free_port()
    return StackConfig.from_env(overrides={
        "HTTP_PORT": http_port, "PB_PORT": free_port(), "SIDECAR_PORT": free_port(),
        "PB_DATA_DIR": tmp / "pb_data", "RUN_DIR": tmp / "run", "RATE_LIMITS": "off",
        "WECHAT_APPID": "", "WECHAT_SECRET": "", "PB_SUPERUSER_PASSWORD": secrets.token_urlsafe(24),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{http_port}",
    }, dotenv_path=None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run")
    parser.add_argument("--duration", type=int, default=int(os.environ.get("BENCH_DURATION", "5")))
    parser.add_argument("--conns", default=os.environ.get("BENCH_CONNS", "1,8,32"))
    parser.add_argument("--only", default="", help="comma-separated scenario names")
    parser.add_argument("--output", default=str(BENCH / "results.md"))
    parser.add_argument("--keep", action="store_true", help="keep the stack running until Enter (inspection)")
    args = parser.parse_args(argv)
    conns_list = [int(c) for c in args.conns.split(",")]
    only = set(filter(None, args.only.split(",")))
    if not shutil.which("wrk"):
        print("wrk is not installed (Debian package wrk)", file=sys.stderr)
        return 1
    RAW.mkdir(parents=True, exist_ok=True)

    tmp = Path(tempfile.mkdtemp(prefix="bench-"))
    config = bench_config(tmp)
    stack = Stack(config)
    results: dict = {}
    try:
        log(f"starting the stack in {tmp} (workers={config.sidecar_workers}, threads={config.sidecar_threads})")
        stack.start()
        pb_url = config.pb_url
        su = stack.pb.superuser_token()
        seed_info = seed(pb_url, su)
        log(f"seed done in {seed_info['seconds']} s: {seed_info['counts']}")
        files = token_files(stack.base_url, tmp, N_USERS, N_COMPANIES)
        warm_up(stack)
        results.update(run_scenarios(stack, files, [s for s in SCENARIOS if not only or s[0] in only],
                                     conns_list, args.duration, N_USERS))
        mem = memory(stack)
        facts = machine_facts()
        (RAW / "results.json").write_text(json.dumps(
            {"results": [dict(r) for r in results.values()], "memory": mem, "facts": facts, "seed": seed_info},
            ensure_ascii=False, indent=1))
        report = render(results, conns_list, mem, facts, config, seed_info, args.duration)
        print("\n" + report)
        Path(args.output).write_text(report)
        log(f"wrote {args.output}; raw wrk output in {RAW}")
        if args.keep:
            input(f"stack at {stack.base_url} (PB {pb_url}); Enter stops it ")
    finally:
        stack.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def render(results, conns_list, mem, facts, config, seed_info, duration) -> str:
    t = targets(results, conns_list)
    workers = mem["gunicorn_workers_kb"]
    lines = [
        "# Benchmark results (`make bench`)",
        "",
        f"Generated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by `python -m bench.run`; "
        f"wrk, {duration} s per cell, 2 threads (1 at c=1), through nginx unless marked direct. "
        "RATE_LIMITS=off, WeChat dev stub.",
        "",
        "## Machine and versions",
        "",
        f"- nproc {facts['nproc']}, CPU {facts['cpu']}, memory {facts['memory']}, kernel {facts['kernel']}",
        f"- PocketBase: {facts['pocketbase']}; Python {facts['python']}; {facts['gunicorn']}; "
        f"{facts['nginx']}; {facts['wrk']}",
        f"- gunicorn: gthread, {config.sidecar_workers} workers x {config.sidecar_threads} threads",
        "- everything (wrk, nginx, gunicorn, PocketBase, stub) shares the same 2 cores",
        "",
        "## Data",
        "",
        f"Seeded in {seed_info['seconds']} s through PocketBase's batch API ({BATCH} requests per batch, "
        f"batch.maxRequests raised for the seed and restored after): {seed_info['counts']}. "
        f"Half the users have a company_id and three attachment ids; of the {(N_USERS // 2) * 3} attachment "
        f"records, {N_FILE_ATTACHMENTS} carry a real uploaded file (a 1x1 PNG, multipart batch), "
        "the rest are metadata-only records (no file). Profile and refresh-token rotate over "
        f"{N_TOKENS} users' tokens from our login route (refreshable: the native auth-refresh baseline uses the same ones).",
        "",
        "## Results",
        "",
        table(results, conns_list),
        "",
        "Ratio: the route's req/s over the baseline's at the same connection count (nginx rows: vs direct).",
        "",
        f"## Where the CPU goes (ms of CPU per request, c={max(conns_list)})",
        "",
        "Read from /proc for each process group of the stack during the cell (wrk itself not counted). "
        "The machine's 2 cores are the budget: at 2 cores, 1 ms of CPU per request caps a route near 2,000 req/s.",
        "",
        cpu_table(results, max(conns_list)),
        "",
        "## Memory after the run (VmRSS)",
        "",
        f"- PocketBase: {mem['pocketbase_kb'] / 1024:.0f} MiB",
        f"- gunicorn master: {mem['gunicorn_master_kb'] / 1024:.0f} MiB; workers: "
        + ", ".join(f"{k / 1024:.0f}" for k in workers) + f" MiB (total {sum(workers) / 1024:.0f} MiB)",
        "",
        "## Targets",
        "",
    ]
    for label, ok, value in t:
        lines.append(f"- **{'PASS' if ok else 'MISS'}** {label}: {value}")
    notes = BENCH / "limits.md"  # the analysis of an actual run, kept by hand (profile, diagnosis)
    lines += ["", "## What limits it", "",
              notes.read_text().strip() if notes.exists() else "(no analysis yet: see bench/limits.md)", ""]
    from bench.scale import current_section  # the cost curve of the last `make bench-scale`, kept as it was
    section = current_section()
    if section:
        lines += [section]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
