#![no_main]
//! `cargo fuzz run scenario`: see dbenv::fuzzing::scenario.

libfuzzer_sys::fuzz_target!(|data: &[u8]| dbenv::fuzzing::scenario(data));
