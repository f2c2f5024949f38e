/// <reference path="../pb_data/types.d.ts" />

// The superuser named by the launcher (ops/pbserver.py, the systemd unit's env file) is created, or
// given that password, whenever PocketBase boots. The password comes from the environment, which
// only its owner can read (/proc/<pid>/environ is 0400), never from a command line as with
// `pocketbase superuser upsert EMAIL PASS`; it is never logged. Without both variables: nothing.
onBootstrap((e) => {
  e.next();
  const email = ($os.getenv("PB_SUPERUSER_EMAIL") || "").trim();
  const password = $os.getenv("PB_SUPERUSER_PASSWORD") || "";
  if (!email || !password) {
    return;
  }
  let record;
  try {
    record = e.app.findAuthRecordByEmail("_superusers", email);
  } catch (_) {
    record = new Record(e.app.findCollectionByNameOrId("_superusers"));
    record.setEmail(email);
  }
  // An unchanged password is not set again: that would rotate the tokenKey and log everyone out.
  if (!record.isNew() && record.validatePassword(password)) {
    return;
  }
  record.setPassword(password);
  try {
    e.app.save(record);
  } catch (err) {
    // Validation errors name the field and the rule, never the value.
    throw new Error(`superuser ${email} could not be saved: ${err}`);
  }
  e.app.logger().info("superuser set from the environment", "email", email);
});
