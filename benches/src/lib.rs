//! Benchmarks of auth-core's hot paths; see `benches/README.md` for the figures and how to
//! reproduce them. The benches live in `benches/benches/`; this library only hosts them.
