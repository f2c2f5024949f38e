-- Baseline: PocketBase's own auth-refresh of ordinary user tokens (BENCH_TOKENS, round-robin).
-- The URL path is given on the wrk command line (through nginx: /pb/api/..., direct: /api/...).
package.path = (os.getenv("BENCH_DIR") or "bench") .. "/?.lua;" .. package.path
require("common").rotate_tokens(function(token)
  return wrk.format("POST", nil, {["Authorization"] = token})
end)
