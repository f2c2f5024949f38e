-- Baseline: PocketBase's native multipart create of tbl_attachments with the same photo (BENCH_PHOTO) by a
-- superuser (BENCH_SUPERUSER, a file holding its token). BENCH_PATH_PREFIX is "/pb" through nginx, "" direct.
package.path = (os.getenv("BENCH_DIR") or "bench") .. "/?.lua;" .. package.path
local common = require("common")
local path = (os.getenv("BENCH_PATH_PREFIX") or "") .. "/api/collections/tbl_attachments/records"
local token, body, content_type

function init(args)
  token = common.lines(os.getenv("BENCH_SUPERUSER"))[1]
  body, content_type = common.photo_multipart("attachments_link")
end

function request()
  return wrk.format("POST", path, {["Content-Type"] = content_type, ["Authorization"] = token}, body)
end
