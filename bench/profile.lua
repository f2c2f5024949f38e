-- Profile update: bearer tokens of several seeded users, round-robin; body {"users_tag": "..."}.
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
  local token = tokens[(n % #tokens) + 1]
  local body = string.format('{"users_tag": "bench-tag-%d"}', n % 1000)
  return wrk.format("POST", "/pb/api/wechat/profile",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
end
