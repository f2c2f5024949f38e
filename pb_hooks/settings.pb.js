/// <reference path="../pb_data/types.d.ts" />

// The settings PocketBase reads are checked at boot against the forms ops/settings.py accepts (lib/settings.js,
// generated from it): a value it does not accept stops PocketBase, naming the setting and those forms.
//
// RATE_LIMITS off (benchmarks: all load comes from one address; any form of off the table accepts) turns
// PocketBase's own limiter off for this process only; the stored settings, applied by migration, stay as they
// are. Also after every reload of the settings: `serve` applies pending migrations after bootstrap (a fresh data
// dir, a new schema), and the settings migration saving rateLimits.enabled would turn the limiter back on.
onBootstrap((e) => {
  e.next();
  const settings = require(`${__hooks}/lib/settings.js`);
  settings.checkAll();
  if (!settings.rateLimitsOn()) {
    e.app.settings().rateLimits.enabled = false;
    e.app.logger().warn("RATE_LIMITS off: PocketBase rate limiter disabled for this process");
  }
});

onSettingsReload((e) => {
  e.next();
  if (!require(`${__hooks}/lib/settings.js`).rateLimitsOn()) {
    e.app.settings().rateLimits.enabled = false;
  }
});
