/// <reference path="../pb_data/types.d.ts" />

// Retention of the login audit: every hour, rows older than LOGIN_LOG_DAYS (default 90) go.
// Superusers can also run it at once from the dashboard (Settings > Crons) or POST /api/crons/login_log_prune.
cronAdd("login_log_prune", "17 * * * *", () => {
  require(`${__hooks}/lib/login_log.js`).prune($app);
});
