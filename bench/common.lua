-- Shared by every bench/*.lua scenario: per-thread ids, status counting, and a JSON summary in done().
-- Parameters come from the environment (set by bench/cells.py): BENCH_PREFIX, BENCH_TOKENS (a file, one
-- token per line), BENCH_USERS (number of seeded users), BENCH_COMPANIES (a file, one company_id per line),
-- BENCH_PHOTO (the upload cells' photo file), BENCH_SUPERUSER (a file holding a superuser token).
local M = {}
local threads = {}
local next_tid = 0

function M.lines(path)
  local out = {}
  if path and path ~= "" then
    for line in io.lines(path) do
      if line ~= "" then out[#out + 1] = line end
    end
  end
  return out
end

-- Defines wrk's init() and request() for a scenario that rotates over the BENCH_TOKENS, each wrk
-- thread starting at its own offset so threads do not hammer the same user:
-- make_request(token, n) builds the request of the n-th turn.
function M.rotate_tokens(make_request)
  local tokens, n
  function init(args)
    tokens = M.lines(os.getenv("BENCH_TOKENS"))
    n = (tid or 1) * 13
  end
  function request()
    n = n + 1
    return make_request(tokens[(n % #tokens) + 1], n)
  end
end

-- A profile update of the rotated users with body {"<field>": "<format with the turn's number>"}.
function M.profile_update(field, format)
  M.rotate_tokens(function(token, n)
    local body = string.format('{"%s": "' .. format .. '"}', field, n % 1000)
    return wrk.format("POST", "/pb/api/wechat/profile",
      {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
  end)
end

-- A multipart/form-data body holding the photo file BENCH_PHOTO in the part `field`, read once per
-- thread: (body, Content-Type).
function M.photo_multipart(field)
  local file = assert(io.open(os.getenv("BENCH_PHOTO"), "rb"))
  local data = file:read("*a")
  file:close()
  local boundary = "----bench-photo-6b1d0e2f"
  local body = "--" .. boundary .. "\r\n" ..
    'Content-Disposition: form-data; name="' .. field .. '"; filename="photo.jpg"\r\n' ..
    "Content-Type: image/jpeg\r\n\r\n" .. data .. "\r\n--" .. boundary .. "--\r\n"
  return body, "multipart/form-data; boundary=" .. boundary
end

function setup(thread)
  next_tid = next_tid + 1
  thread:set("tid", next_tid)
  threads[#threads + 1] = thread
end

statuses = {}
counter = 0

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local merged = {}
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    if s then
      for code, n in pairs(s) do merged[code] = (merged[code] or 0) + n end
    end
  end
  local parts = {}
  for code, n in pairs(merged) do parts[#parts + 1] = string.format('"%d": %d', code, n) end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"duration_us": %d, "requests": %d, "bytes": %d, "errors": {"connect": %d, "read": %d, ' ..
    '"write": %d, "status": %d, "timeout": %d}, "latency_us": {"mean": %.1f, "p50": %d, "p90": %d, ' ..
    '"p99": %d, "max": %d}, "statuses": {%s}}\n',
    summary.duration, summary.requests, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    table.concat(parts, ", ")))
end

return M
