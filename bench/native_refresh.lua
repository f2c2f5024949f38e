-- Baseline: PocketBase's own auth-refresh with a superuser token (BENCH_TOKENS, first line).
-- The URL path is given on the wrk command line (through nginx: /pb/api/..., direct: /api/...).
package.path = (os.getenv("BENCH_DIR") or "bench") .. "/?.lua;" .. package.path
local common = require("common")
wrk.method = "POST"
wrk.headers["Authorization"] = common.lines(os.getenv("BENCH_TOKENS"))[1]
