//! config-linux.md "Seccomp".

use crate::harness::T;
use crate::Test;
use serde_json::json;

/// The tests of this module.
pub fn tests() -> Vec<Test> {
    vec![Test {
        group: "seccomp",
        name: "actions-errnoret-args",
        run: actions,
    }]
}

/// ERRNO with and without errnoRet ("If not specified, its default value is EPERM"), an
/// argument filter, KILL (SIGSYS), TRACE without a tracer (ENOSYS) and LOG (allowed).
fn actions(t: &mut T) {
    if !std::path::Path::new("/proc/sys/kernel/seccomp/actions_avail").exists() {
        t.skip("seccomp", "host kernel has no seccomp filter support");
        return;
    }
    let mut b = t.bundle();
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [
            {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 42},
            {"names": ["getsid"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["getpriority"], "action": "SCMP_ACT_ERRNO", "errnoRet": 33,
             "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
            {"names": ["getpgid"], "action": "SCMP_ACT_KILL"},
            {"names": ["uname"], "action": "SCMP_ACT_TRACE"},
            {"names": ["getppid"], "action": "SCMP_ACT_LOG"}
        ]
    });
    b.annotate(
        "rtt.seccomp",
        "getcwd=errno:42,getsid=errno:1,getpriority1=errno:33,getpriority0=ok,getpgid=signal:31,uname=errno:38,getppid=ok",
    );
    // getcwd is filtered, so the generic cwd check cannot run.
    b.annotate("rtt.skip-checks", "1");
    t.run_checker(&b);
}
