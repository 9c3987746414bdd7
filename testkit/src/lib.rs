//! Test doubles that both the integration tests (`server/tests/api/`) and the benchmark
//! (`bench/`) start: one home, instead of the tests including bench source by path.

pub mod catcher;
