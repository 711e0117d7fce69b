#![no_main]
//! `cargo fuzz run generate`: see dbenv::fuzzing::generate.

libfuzzer_sys::fuzz_target!(|data: &[u8]| dbenv::fuzzing::generate(data));
