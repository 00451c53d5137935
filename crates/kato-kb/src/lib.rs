//! kato-kb
