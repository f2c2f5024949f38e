-- Baseline: PocketBase's own auth-refresh of ordinary user tokens (BENCH_TOKENS, round-robin).
-- The URL path is given on the wrk command line (through nginx: /pb/api/..., direct: /api/...).
package.path = (os.getenv("BENCH_DIR") or "bench") .. "/?.lua;" .. package.path
local common = require("common")
local next_token

function init(args)
  next_token = common.token_rotation()
end

function request()
  return wrk.format("POST", nil, {["Authorization"] = next_token()})
end
