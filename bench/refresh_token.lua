-- Sidecar refresh-token with a valid bearer (several users' tokens, round-robin).
package.path = (os.getenv("BENCH_DIR") or "bench") .. "/?.lua;" .. package.path
local common = require("common")
local tokens = {}
local n = 0

function init(args)
  tokens = common.lines(os.getenv("BENCH_TOKENS"))
  n = (tid or 1) * 13
end

function request()
  n = n + 1
  return wrk.format("POST", "/pb/api/system/refresh-token",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. tokens[(n % #tokens) + 1]}, "{}")
end
