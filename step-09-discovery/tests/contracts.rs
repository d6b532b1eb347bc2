//! Step 09 keeps the contracts of step 07 (checked in development mode, where nothing is
//! announced); tests/discovery.rs checks the announcing.
test_support::contracts!(env, signals, health);
