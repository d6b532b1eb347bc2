//! Step 07 keeps the contracts of step 04 and answers `/health`.
test_support::contracts!(env, signals, health);
