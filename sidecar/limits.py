"""Input limits of our routes that are not a stored field's (those come from schema.yaml)."""
from __future__ import annotations

# A wx.login code is 32 characters today: room for WeChat to lengthen it, none for a body of junk.
WX_CODE_MAX_LENGTH = 128
# A PocketBase auth token is a few hundred bytes: a longer Authorization is not worth asking PocketBase about.
MAX_TOKEN_LENGTH = 4096
