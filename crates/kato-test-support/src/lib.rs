//! kato-test-support
