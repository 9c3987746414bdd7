//! What both the integration tests (`server/tests/api/`) and the benchmark (`bench/`)
//! start: an SMTP catcher ([`catcher`]) and throwaway PostgreSQL clusters ([`postgres`]);
//! one home, instead of the tests including bench source by path.

pub mod catcher;
pub mod postgres;
