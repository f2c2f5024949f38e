-- First-login burst: every request is a new WeChat user (code new<prefix>t<thread>n<counter>).
package.path = (os.getenv("BENCH_DIR") or "bench") .. "/?.lua;" .. package.path
require("common")
local prefix = os.getenv("BENCH_PREFIX") or "x"
local headers = {["Content-Type"] = "application/json"}
local n = 0

function request()
  n = n + 1
  local body = string.format('{"users_wx_code": "new%st%dn%d"}', prefix, tid or 0, n)
  return wrk.format("POST", "/pb/api/wechat/login", headers, body)
end
