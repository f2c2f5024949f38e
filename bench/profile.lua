-- Profile update: bearer tokens of several seeded users, round-robin; body {"users_tag": "..."}.
package.path = (os.getenv("BENCH_DIR") or "bench") .. "/?.lua;" .. package.path
require("common").rotate_tokens(function(token, n)
  local body = string.format('{"users_tag": "bench-tag-%d"}', n % 1000)
  return wrk.format("POST", "/pb/api/wechat/profile",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
end)
