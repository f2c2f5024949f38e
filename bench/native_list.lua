-- Baseline: PocketBase's own filtered list of tbl_company (guest; the list rule is public), cycling
-- over the seeded company ids. BENCH_PATH_PREFIX is "/pb" through nginx, "" direct.
package.path = (os.getenv("BENCH_DIR") or "bench") .. "/?.lua;" .. package.path
local common = require("common")
local ids = {}
local base = (os.getenv("BENCH_PATH_PREFIX") or "") .. "/api/collections/tbl_company/records?perPage=1&filter="
local n = 0

local function urlencode(s)
  return (s:gsub("[^%w%-_%.~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function init(args)
  for _, id in ipairs(common.lines(os.getenv("BENCH_COMPANIES"))) do
    ids[#ids + 1] = base .. urlencode('company_id="' .. id .. '"')
  end
  n = (tid or 1) * 31
end

function request()
  n = n + 1
  return wrk.format("GET", ids[(n % #ids) + 1])
end
