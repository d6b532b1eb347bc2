//! Step 09 announces itself to discovery, outside development mode.
test_support::contracts!(discovery);
