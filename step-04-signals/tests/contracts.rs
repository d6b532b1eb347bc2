//! Step 04 keeps the contracts of step 03 (but for the missing handlers) and stops cleanly.
test_support::contracts!(env, signals, no_health);
