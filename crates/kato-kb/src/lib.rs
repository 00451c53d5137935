//! kato-kb: the knowledge-base facade over ClickHouse and Redis.
//!
//! So far it holds [`records`]: how one learn becomes the rows and the update each store gets.
//! The facade itself (learn, get, clear, drop, rehydrate, predict) is not built yet.

pub mod records;
