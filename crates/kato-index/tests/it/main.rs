//! kato-index against brute force: every path's pruned set and final predictions equal scoring
//! every pattern of the kb with kato-core alone.

mod brute_force;
mod equivalence;
