//! kato-redis
