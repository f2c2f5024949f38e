-- Profile update: bearer tokens of several seeded users, round-robin; body {"users_tag": "..."}.
package.path = (os.getenv("BENCH_DIR") or "bench") .. "/?.lua;" .. package.path
require("common").profile_update("users_tag", "bench-tag-%d")
