-- Profile update with a name change: the name goes through WeChat's msg_sec_check (the dev stub) before it is
-- written. Bearer tokens of several seeded users, round-robin; body {"users_name": "..."}.
package.path = (os.getenv("BENCH_DIR") or "bench") .. "/?.lua;" .. package.path
require("common").rotate_tokens(function(token, n)
  local body = string.format('{"users_name": "bench-name-%d"}', n % 1000)
  return wrk.format("POST", "/pb/api/wechat/profile",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
end)
