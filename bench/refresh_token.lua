-- Sidecar refresh-token with a valid bearer (several users' tokens, round-robin).
package.path = (os.getenv("BENCH_DIR") or "bench") .. "/?.lua;" .. package.path
local common = require("common")
local next_token

function init(args)
  next_token = common.token_rotation()
end

function request()
  return wrk.format("POST", "/pb/api/system/refresh-token",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. next_token()}, "{}")
end
