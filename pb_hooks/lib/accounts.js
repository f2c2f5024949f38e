// Shared by the internal routes of pb_hooks/accounts.pb.js (handlers run in isolated contexts).

// The tbl_auth_users record a user token belongs to, verified here (signature, expiry, tokenKey).
// An invalid token throws a 400 with data.token.code "invalid_token", not a 401: a 401 would tell
// the sidecar that its own superuser session is gone.
function userOfToken(app, token) {
  let record = null;
  try {
    record = token ? app.findAuthRecordByToken(String(token), "auth") : null;
  } catch (_) {
    record = null;
  }
  if (!record || record.collection().name !== "tbl_auth_users") {
    throw new BadRequestError("Invalid or expired user token.", {
      token: new ValidationError("invalid_token", "Invalid or expired user token."),
    });
  }
  return record;
}

module.exports = { userOfToken };
