//! Configuration: HAProxy's language read in two stages.
//!
//! `syntax` turns files into lines of tokens that remember `file:line`; `keywords` holds the one
//! table that says, for every keyword, where it may appear and how it is parsed; `validate` builds
//! the `model::Model`, inheriting defaults and resolving names. Every stage collects its problems
//! instead of stopping at the first, so the user sees all of them in one run.

pub mod model;

pub use model::Model;
