/// <reference path="../pb_data/types.d.ts" />

// RATE_LIMITS=off (benchmarks: all load comes from one address) turns PocketBase's own limiter
// off for this process only; the stored settings, applied by migration, stay as they are.
onBootstrap((e) => {
  e.next();
  if (($os.getenv("RATE_LIMITS") || "").trim().toLowerCase() === "off") {
    e.app.settings().rateLimits.enabled = false;
    e.app.logger().warn("RATE_LIMITS=off: PocketBase rate limiter disabled for this process");
  }
});
