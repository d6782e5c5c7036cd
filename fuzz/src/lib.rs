//! ringlb's fuzz targets as a library for the AFL binaries in src/bin/. The bodies are in
//! `targets`, which tests/fuzz_corpus.rs compiles too (by path), so that `cargo test` replays
//! the corpus through exactly the code the fuzzer runs.

pub mod targets;
