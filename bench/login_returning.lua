-- Returning-user login: every request logs in a different seeded user (code benchuser<N>.<counter>).
package.path = (os.getenv("BENCH_DIR") or "bench") .. "/?.lua;" .. package.path
require("common")
local users = tonumber(os.getenv("BENCH_USERS") or "10000")
local headers = {["Content-Type"] = "application/json"}
local n = 0

function init(args)
  -- Threads start at different offsets so they do not log in the same users in lockstep.
  n = (tid or 1) * 7919
end

function request()
  n = n + 1
  local body = string.format('{"users_wx_code": "benchuser%d.%d"}', n % users, n)
  return wrk.format("POST", "/pb/api/wechat/login", headers, body)
end
