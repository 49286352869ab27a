//! Compile arbitrary `linux.seccomp` profiles: never panics, and every program it returns
//! is one the kernel would load (length, jump ranges, loads, final RET) and runs to a
//! verdict on any input.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../crates/coracle/src/seccomp/interp.rs"]
#[allow(dead_code)]
mod interp;

fuzz_target!(|data: &[u8]| {
    let Ok(profile) = serde_json::from_slice::<oci_spec::runtime::LinuxSeccomp>(data) else {
        return;
    };
    let Ok(filter) = coracle::seccomp::compile(&profile) else {
        return;
    };
    interp::validate(&filter.program).expect("valid program");
    for (i, nr) in [0u32, 1, 39, 110, 0x4000_0000, u32::MAX]
        .into_iter()
        .enumerate()
    {
        for arch in [0xc000_003e, 0x4000_0003, 0xc000_00b7, 0] {
            let d = interp::SeccompData {
                nr,
                arch,
                ip: 0,
                args: [i as u64, u64::MAX, 1 << 32, 0, 22, 40],
            };
            interp::run(&filter.program, &d).expect("program runs to a verdict");
        }
    }
});
