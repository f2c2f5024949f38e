/// <reference path="../pb_data/types.d.ts" />

// Operator switches for superusers, both off by default (deploy/env.example, docs/operations.md "Settings").
//
// SUPERUSER_ALLOWED_IPS: PocketBase has no IP allow-list of its own, so this middleware is one.
// A request from elsewhere may neither authenticate as a superuser (/api/collections/_superusers/..., or the
// same collection named by its id, looked up in PocketBase's collection cache: no id is written here) nor use
// a superuser token. The client address is e.realIP(): nginx's X-Real-IP, a header PocketBase trusts
// (schema.yaml settings) and nginx always overwrites. Loopback is always allowed.
// Registered only when set, so requests pay nothing for it otherwise (it is read once, at boot).
if (($os.getenv("SUPERUSER_ALLOWED_IPS") || "").trim()) {
  routerUse((e) => {
    const named = /^\/api\/collections\/([^/]+)(\/|$)/.exec(e.request.url.path);
    let superuserRoute = false;
    if (named) {
      try {
        superuserRoute = e.app.findCachedCollectionByNameOrId(decodeURIComponent(named[1])).name === "_superusers";
      } catch (_) {
        superuserRoute = false;  // no such collection: PocketBase answers 404 itself
      }
    }
    if (superuserRoute || e.hasSuperuserAuth()) {
      const list = $os.getenv("SUPERUSER_ALLOWED_IPS");
      if (!require(`${__hooks}/lib/ip_allow.js`).allowed(list, e.realIP())) {
        throw new ForbiddenError("Superusers are not allowed from this address.");
      }
    }
    return e.next();
  });
}

// SUPERUSER_ALLOWED_IPS is checked at boot, so a typo stops PocketBase instead of locking nobody out.
// SUPERUSER_MFA=on: PocketBase's own MFA for _superusers (the password, then a one-time code by email:
// configure SMTP in the dashboard first). "off" turns it off; unset leaves what is stored (the
// dashboard's choice). PocketBase refuses an MFA rule on the system _superusers collection, so the
// exception for local processes is the password hook below.
onBootstrap((e) => {
  e.next();
  require(`${__hooks}/lib/ip_allow.js`).parse($os.getenv("SUPERUSER_ALLOWED_IPS"));
  const mfa = ($os.getenv("SUPERUSER_MFA") || "").trim().toLowerCase();
  if (mfa !== "on" && mfa !== "off") {
    if (mfa) throw new Error(`SUPERUSER_MFA must be on, off or empty, not ${JSON.stringify(mfa)}`);
    return;
  }
  const collection = e.app.findCollectionByNameOrId("_superusers");
  const enabled = mfa === "on";
  if (collection.mfa.enabled === enabled && collection.otp.enabled === enabled) {
    return;
  }
  collection.mfa.enabled = enabled;
  collection.otp.enabled = enabled;
  e.app.save(collection);
  e.app.logger().info("superuser MFA " + mfa + " (SUPERUSER_MFA)");
});

// With MFA on, a direct local call still logs in with the password alone (an auth method of "" skips
// PocketBase's MFA step): the sidecar has no mailbox. Everyone coming through nginx gets the MFA step.
onRecordAuthWithPasswordRequest((e) => {
  // A local process calling PocketBase directly: no nginx in between (nginx always sets X-Real-IP) and a
  // loopback peer. PocketBase listens on 127.0.0.1 only, so this is the sidecar or an operator's tool.
  const direct = !e.requestInfo().headers["x_real_ip"] && require(`${__hooks}/lib/ip_allow.js`).isLoopback(e.remoteIP());
  if (e.collection.mfa.enabled && direct && e.record && e.record.validatePassword(e.password)) {
    return $apis.recordAuthResponse(e.requestEvent, e.record, "", null);
  }
  return e.next();
}, "_superusers");
