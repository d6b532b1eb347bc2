//! The checker from outside: the snapshots' matrix, services that are wrong on purpose, and
//! the workshop's original Node.js app.

mod check {
    mod fixtures;
    mod matrix;
    mod node;
    mod setup_page;
    mod support;
}
