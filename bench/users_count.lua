-- Sidecar users-count (public, body {}); the URL on the wrk command line is /pb/api/system/users-count.
package.path = (os.getenv("BENCH_DIR") or "bench") .. "/?.lua;" .. package.path
require("common")
wrk.method = "POST"
wrk.body = "{}"
wrk.headers["Content-Type"] = "application/json"
