//! The checker from outside: the snapshots' matrix, services that are wrong on purpose, the
//! workshop's original Node.js app, and the steps' Docker images.

mod check {
    mod fixtures;
    mod image;
    mod matrix;
    mod node;
    mod setup_page;
    mod support;
}
