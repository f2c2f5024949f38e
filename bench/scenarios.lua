-- Every request the benches send (bench/scenarios.py names them): BENCH_REQUEST picks the builder below.
-- Inputs come from the environment (bench/wrk.py): BENCH_TOKENS (a file, one user token per line),
-- BENCH_USERS (seeded users), BENCH_COMPANIES (a file of company ids), BENCH_PHOTO (the phone photo),
-- BENCH_SUPERUSER (a file holding a superuser token), BENCH_PREFIX (unique per cell), BENCH_PATH_PREFIX
-- ("/pb" through nginx, "" straight at PocketBase). The feed requests take the URL wrk is given.
local threads = {}

local function lines(path)
  local out = {}
  if path and path ~= "" then
    for line in io.lines(path) do
      if line ~= "" then out[#out + 1] = line end
    end
  end
  return out
end

local function urlencode(s)
  return (s:gsub("[^%w%-_%.~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

-- A multipart/form-data body holding the photo in the part `field`: (body, Content-Type).
local function multipart(field)
  local file = assert(io.open(os.getenv("BENCH_PHOTO"), "rb"))
  local data = file:read("*a")
  file:close()
  local boundary = "----bench-photo-6b1d0e2f"
  local body = "--" .. boundary .. "\r\n" ..
    'Content-Disposition: form-data; name="' .. field .. '"; filename="photo.jpg"\r\n' ..
    "Content-Type: image/jpeg\r\n\r\n" .. data .. "\r\n--" .. boundary .. "--\r\n"
  return body, "multipart/form-data; boundary=" .. boundary
end

local JSON = {["Content-Type"] = "application/json"}
local s = {}  -- this thread's inputs, read in init()

local function bearer(token, content_type)
  return {["Content-Type"] = content_type or "application/json", ["Authorization"] = "Bearer " .. token}
end

local function profile(field, format)
  return function(n)
    return wrk.format("POST", "/pb/api/wechat/profile", bearer(s.token(n)),
      string.format('{"%s": "' .. format .. '"}', field, n % 1000))
  end
end

local builders = {
  login_returning = function(n)  -- a different seeded user each time (code benchuser<N>.<turn>)
    return wrk.format("POST", "/pb/api/wechat/login", JSON,
      string.format('{"users_wx_code": "benchuser%d.%d"}', n % s.users, n))
  end,
  login_new = function(n)        -- a new WeChat user each time
    return wrk.format("POST", "/pb/api/wechat/login", JSON,
      string.format('{"users_wx_code": "new%st%dn%d"}', s.prefix, tid or 0, n))
  end,
  profile = profile("users_tag", "bench-tag-%d"),
  profile_name = profile("users_name", "bench-name-%d"),  -- through msg_sec_check (CONTENT_SECURITY on)
  refresh_token = function(n)
    return wrk.format("POST", "/pb/api/system/refresh-token", bearer(s.token(n)), "{}")
  end,
  users_count = function()
    return wrk.format("POST", "/pb/api/system/users-count", JSON, "{}")
  end,
  native_refresh = function(n)
    return wrk.format("POST", s.path_prefix .. "/api/collections/tbl_auth_users/auth-refresh",
      {["Authorization"] = s.token(n)})
  end,
  native_list = function(n)      -- guest; tbl_company's list rule is public
    local id = s.companies[(n % #s.companies) + 1]
    return wrk.format("GET", s.path_prefix .. "/api/collections/tbl_company/records?perPage=1&filter=" ..
      urlencode('company_id="' .. id .. '"'))
  end,
  native_upload = function()     -- a superuser's multipart create, the same photo
    if not s.native_body then s.native_body, s.native_type = multipart("attachments_link") end
    return wrk.format("POST", s.path_prefix .. "/api/collections/tbl_attachments/records",
      {["Content-Type"] = s.native_type, ["Authorization"] = s.superuser}, s.native_body)
  end,
  upload = function(n)           -- as wx.uploadFile sends it
    if not s.body then s.body, s.content_type = multipart("file") end
    return wrk.format("POST", "/pb/api/wechat/upload", bearer(s.token(n), s.content_type), s.body)
  end,
  feed = function()              -- a guest: nginx may answer from its cache
    return wrk.format("GET")
  end,
  feed_token = function(n)       -- a signed-in user: never cached
    return wrk.format("GET", nil, {["Authorization"] = "Bearer " .. s.token(n)})
  end,
}

local build = assert(builders[os.getenv("BENCH_REQUEST")], "unknown BENCH_REQUEST")
local n = 0

function setup(thread)
  threads[#threads + 1] = thread
  thread:set("tid", #threads)
end

function init(args)
  local tokens = lines(os.getenv("BENCH_TOKENS"))
  s.token = function(k) return tokens[(k % #tokens) + 1] end
  s.users = tonumber(os.getenv("BENCH_USERS") or "1")
  s.companies = lines(os.getenv("BENCH_COMPANIES"))
  s.superuser = lines(os.getenv("BENCH_SUPERUSER"))[1]
  s.prefix = os.getenv("BENCH_PREFIX") or "x"
  s.path_prefix = os.getenv("BENCH_PATH_PREFIX") or ""
  n = (tid or 1) * 7919          -- threads start apart, not in lockstep on the same users
end

function request()
  n = n + 1
  return build(n)
end

statuses = {}

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

-- One JSON summary line: bench/wrk.py reads it.
function done(summary, latency, requests)
  local merged = {}
  for _, t in ipairs(threads) do
    for code, k in pairs(t:get("statuses") or {}) do merged[code] = (merged[code] or 0) + k end
  end
  local parts = {}
  for code, k in pairs(merged) do parts[#parts + 1] = string.format('"%d": %d', code, k) end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"duration_us": %d, "requests": %d, "socket_errors": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"statuses": {%s}}\n', summary.duration, summary.requests, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), table.concat(parts, ", ")))
end
