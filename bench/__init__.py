"""Load benchmark of the stack (make bench): seeds PocketBase, drives nginx with wrk, writes results.md."""
