//! Integration tests: a real server on a loopback port, a fresh SQLite file per test, mail
//! written to a real outbox directory and read back the way a person would get it.

mod abuse;
mod cli;
mod codes;
mod concurrency;
mod copy;
mod deploy;
mod faults;
mod forms;
mod gate;
mod gate_configs;
mod gate_memory;
mod hardening;
mod helpers;
mod hostile;
mod instances;
mod lifetimes;
mod links;
mod managed;
mod matrix;
mod migrations;
mod operate;
mod plans;
mod process;
mod roles;
mod secrets;
mod signin;
mod timing;
