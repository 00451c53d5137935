//! kato-core: the pure part of kato (pattern model, naming, MinHash/LSH). No I/O.
