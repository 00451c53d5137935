//! Integration tests of kato-redis against a real Redis (`cargo xtask test`).

mod smoke;
mod writer;
