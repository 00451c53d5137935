//! Integration tests of kato-redis against a real Redis (`cargo xtask test`).

mod lease;
mod sessions;
mod smoke;
mod writer;
