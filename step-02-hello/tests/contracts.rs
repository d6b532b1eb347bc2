//! Step 02 answers on localhost:3000.
test_support::contracts!(hello);
