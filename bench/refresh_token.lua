-- Sidecar refresh-token with a valid bearer (several users' tokens, round-robin).
package.path = (os.getenv("BENCH_DIR") or "bench") .. "/?.lua;" .. package.path
require("common").rotate_tokens(function(token)
  return wrk.format("POST", "/pb/api/system/refresh-token",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, "{}")
end)
