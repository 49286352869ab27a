//! The deprecated `linux.seccomp.syscalls[].name`, through the config loader.

use serde_json::json;

use crate::seccomp::interp::{run, SeccompData};
use crate::seccomp::{action, arch, compile};

/// config.json with `linux.seccomp` = `seccomp`, parsed in a throwaway bundle.
fn load(
    test: &str,
    seccomp: serde_json::Value,
) -> Result<crate::spec::Bundle, crate::spec::SpecError> {
    let dir = std::env::temp_dir().join(format!(
        "coracle-seccomp-name-{}-{test}",
        std::process::id()
    ));
    std::fs::create_dir_all(dir.join("rootfs")).unwrap();
    let mut doc = crate::spec::default_spec();
    doc["linux"]["seccomp"] = seccomp;
    let r = crate::spec::parse(doc.to_string().as_bytes(), &dir);
    std::fs::remove_dir_all(&dir).unwrap();
    r
}

#[test]
fn a_rule_with_only_name_applies() {
    let bundle = load(
        "only-name",
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
                {"name": "getppid", "action": "SCMP_ACT_ERRNO", "errnoRet": 5},
                {"name": "getpid", "names": ["gettid"], "action": "SCMP_ACT_TRAP"},
            ]
        }),
    )
    .expect("a profile using name loads");
    let profile = bundle
        .spec
        .linux()
        .as_ref()
        .unwrap()
        .seccomp()
        .clone()
        .unwrap();
    let prog = compile(&profile).unwrap().program;
    let verdict = |nr: libc::c_long| {
        let d = SeccompData {
            nr: nr as u32,
            arch: arch::AUDIT_ARCH_X86_64,
            ..Default::default()
        };
        run(&prog, &d).unwrap().0
    };
    assert_eq!(verdict(libc::SYS_getppid), action::ERRNO | 5);
    assert_eq!(verdict(libc::SYS_getpid), action::TRAP);
    assert_eq!(verdict(libc::SYS_gettid), action::TRAP);
    assert_eq!(verdict(libc::SYS_read), action::ALLOW);
}

#[test]
fn a_name_that_is_not_a_string_is_named() {
    let Err(e) = load(
        "bad-name",
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"name": 3, "action": "SCMP_ACT_ERRNO"}]
        }),
    ) else {
        panic!("a numeric name is refused");
    };
    assert_eq!(
        e.to_string(),
        "linux.seccomp.syscalls[0].name: expected a string, found number"
    );
}
