#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| nfv_fuzz::nat(data));
