//! Step 03 takes its address from the environment, and has no signal handlers yet.
test_support::contracts!(env, no_signal_handlers);
