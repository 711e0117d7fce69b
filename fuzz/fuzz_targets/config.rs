#![no_main]
//! `cargo fuzz run config`: see dbenv::fuzzing::config.

libfuzzer_sys::fuzz_target!(|data: &[u8]| dbenv::fuzzing::config(data));
