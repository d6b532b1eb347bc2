//! The practice platform: `cargo run -p platform`.

fn main() {}
