-- Profile update with a name change: the name goes through WeChat's msg_sec_check (the dev stub) before it is
-- written (bench/scenarios.py runs this cell with CONTENT_SECURITY on). Body {"users_name": "..."}.
package.path = (os.getenv("BENCH_DIR") or "bench") .. "/?.lua;" .. package.path
require("common").profile_update("users_name", "bench-name-%d")
