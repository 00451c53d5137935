//! kato-core: the pure part of kato (pattern model, naming, MinHash/LSH). No I/O.

mod kb_id;
pub use kb_id::{InvalidKbId, KbId};
