-- Our upload route: the bench's phone photo (BENCH_PHOTO, ~300 KB JPEG with EXIF and GPS, bench/photo.py)
-- in the multipart part `file`, as wx.uploadFile sends it; bearer tokens of seeded users, round-robin.
package.path = (os.getenv("BENCH_DIR") or "bench") .. "/?.lua;" .. package.path
local common = require("common")
local body, content_type
common.rotate_tokens(function(token)
  if not body then body, content_type = common.photo_multipart("file") end
  return wrk.format("POST", "/pb/api/wechat/upload",
    {["Content-Type"] = content_type, ["Authorization"] = "Bearer " .. token}, body)
end)
