/// <reference path="../pb_data/types.d.ts" />
// Written by hand (a data migration; `make schema` leaves it alone). Issue #29: every user registered
// before promo codes existed gets one, as a new user does (pb_hooks/lib/referral.js: the alphabet, the
// length, a fresh code on a collision). Runs once, after the collections migration that adds the unique
// index. Nothing to undo: a code, once given, is kept.
migrate((app) => {
  const given = require(`${__hooks}/lib/referral.js`).backfill(app);
  if (given) {
    app.logger().info("promo codes back-filled", "users", given);
  }
}, (_app) => {});
