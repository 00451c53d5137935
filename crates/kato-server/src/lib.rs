//! kato-server
