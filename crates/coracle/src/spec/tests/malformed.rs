//! The table of malformed configs: each names the exact field in its error.

use serde_json::{json, Value};

use super::{del, every_field, parse_value, set, TempBundle};
use crate::spec::{default_spec, parse, SpecError};

/// A change to a good config and the error it must produce.
struct Case {
    /// What rule the case checks.
    name: &'static str,
    /// The good config to start from: the default, or the one with every field.
    every: bool,
    /// The change.
    edit: fn(&mut Value),
    /// The exact field path in the error.
    field: &'static str,
    /// A part of the message.
    msg: &'static str,
}

const fn case(
    name: &'static str,
    edit: fn(&mut Value),
    field: &'static str,
    msg: &'static str,
) -> Case {
    Case {
        name,
        every: false,
        edit,
        field,
        msg,
    }
}

const fn every(
    name: &'static str,
    edit: fn(&mut Value),
    field: &'static str,
    msg: &'static str,
) -> Case {
    Case {
        name,
        every: true,
        edit,
        field,
        msg,
    }
}

const CASES: &[Case] = &[
    case(
        "version_required",
        |d| del(d, "/ociVersion"),
        "ociVersion",
        "required",
    ),
    case(
        "version_not_a_string",
        |d| set(d, "/ociVersion", json!(1)),
        "ociVersion",
        "expected a string, found number",
    ),
    case(
        "version_major_2",
        |d| set(d, "/ociVersion", json!("2.0.0")),
        "ociVersion",
        "unsupported version \"2.0.0\"",
    ),
    case(
        "version_major_0",
        |d| set(d, "/ociVersion", json!("0.6.0")),
        "ociVersion",
        "unsupported version",
    ),
    case(
        "version_garbage",
        |d| set(d, "/ociVersion", json!("latest")),
        "ociVersion",
        "\"latest\" is not a semantic version",
    ),
    case(
        "version_two_parts",
        |d| set(d, "/ociVersion", json!("1.0")),
        "ociVersion",
        "not a semantic version",
    ),
    case("root_required", |d| del(d, "/root"), "root", "required"),
    case(
        "root_not_object",
        |d| set(d, "/root", json!("rootfs")),
        "root",
        "expected an object, found string",
    ),
    case(
        "root_path_required",
        |d| del(d, "/root/path"),
        "root.path",
        "required",
    ),
    case(
        "root_path_empty",
        |d| set(d, "/root/path", json!("")),
        "root.path",
        "must not be empty",
    ),
    case(
        "root_path_missing_on_disk",
        |d| set(d, "/root/path", json!("nope")),
        "root.path",
        "No such file or directory (ENOENT)",
    ),
    case(
        "root_path_not_a_directory",
        |d| set(d, "/root/path", json!("/dev/null")),
        "root.path",
        "\"/dev/null\" is not a directory",
    ),
    case(
        "root_readonly_type",
        |d| set(d, "/root/readonly", json!("yes")),
        "root.readonly",
        "invalid type: string \"yes\", expected a boolean",
    ),
    case(
        "process_required",
        |d| del(d, "/process"),
        "process",
        "required",
    ),
    case(
        "process_args_required",
        |d| del(d, "/process/args"),
        "process.args",
        "required",
    ),
    case(
        "process_args_empty",
        |d| set(d, "/process/args", json!([])),
        "process.args",
        "must not be empty",
    ),
    case(
        "process_args_not_strings",
        |d| set(d, "/process/args", json!(["sh", 5])),
        "process.args[1]",
        "expected a string, found number",
    ),
    case(
        "process_args0_empty",
        |d| set(d, "/process/args", json!([""])),
        "process.args[0]",
        "must not be empty",
    ),
    case(
        "process_args_nul",
        |d| set(d, "/process/args/0", json!("s\u{0}h")),
        "process.args[0]",
        "contains a NUL byte",
    ),
    case(
        "process_cwd_required",
        |d| del(d, "/process/cwd"),
        "process.cwd",
        "required",
    ),
    case(
        "process_cwd_relative",
        |d| set(d, "/process/cwd", json!("home")),
        "process.cwd",
        "must be absolute, got \"home\"",
    ),
    case(
        "process_user_required",
        |d| del(d, "/process/user"),
        "process.user",
        "required",
    ),
    case(
        "process_uid_required",
        |d| del(d, "/process/user/uid"),
        "process.user.uid",
        "required",
    ),
    case(
        "process_gid_required",
        |d| del(d, "/process/user/gid"),
        "process.user.gid",
        "required",
    ),
    case(
        "process_uid_negative",
        |d| set(d, "/process/user/uid", json!(-1)),
        "process.user.uid",
        "invalid value: integer `-1`, expected u32",
    ),
    case(
        "process_additional_gids_type",
        |d| set(d, "/process/user/additionalGids", json!(["wheel"])),
        "process.user.additionalGids[0]",
        "expected u32",
    ),
    case(
        "process_env_no_equals",
        |d| set(d, "/process/env/1", json!("TERM")),
        "process.env[1]",
        "expected NAME=VALUE, got \"TERM\"",
    ),
    case(
        "process_env_empty_name",
        |d| set(d, "/process/env/0", json!("=x")),
        "process.env[0]",
        "empty variable name",
    ),
    case(
        "process_terminal_type",
        |d| set(d, "/process/terminal", json!("true")),
        "process.terminal",
        "expected a boolean",
    ),
    case(
        "capability_unknown",
        |d| set(d, "/process/capabilities/bounding/3", json!("CAP_FOO")),
        "process.capabilities.bounding[3]",
        "unknown capability \"CAP_FOO\"",
    ),
    case(
        "capability_lowercase",
        |d| set(d, "/process/capabilities/effective/0", json!("cap_kill")),
        "process.capabilities.effective[0]",
        "unknown capability \"cap_kill\"",
    ),
    case(
        "capability_without_prefix",
        |d| set(d, "/process/capabilities/permitted/2", json!("KILL")),
        "process.capabilities.permitted[2]",
        "unknown capability \"KILL\"",
    ),
    case(
        "capability_inheritable_unknown",
        |d| {
            set(
                d,
                "/process/capabilities/inheritable",
                json!(["CAP_CHOWN", "CAP_41"]),
            )
        },
        "process.capabilities.inheritable[1]",
        "unknown capability \"CAP_41\"",
    ),
    case(
        "capability_ambient_unknown",
        |d| set(d, "/process/capabilities/ambient/1", json!("CAP_SYS_GOD")),
        "process.capabilities.ambient[1]",
        "unknown capability",
    ),
    case(
        "capability_set_not_array",
        |d| set(d, "/process/capabilities/bounding", json!("CAP_KILL")),
        "process.capabilities.bounding",
        "expected an array, found string",
    ),
    case(
        "rlimit_unknown",
        |d| set(d, "/process/rlimits/0/type", json!("RLIMIT_FOO")),
        "process.rlimits[0].type",
        "unknown rlimit \"RLIMIT_FOO\"",
    ),
    case(
        "rlimit_duplicate",
        |d| {
            set(
                d,
                "/process/rlimits/1",
                json!({"type": "RLIMIT_NOFILE", "soft": 1, "hard": 1}),
            )
        },
        "process.rlimits[1].type",
        "duplicate rlimit \"RLIMIT_NOFILE\" (also at process.rlimits[0])",
    ),
    case(
        "rlimit_soft_above_hard",
        |d| set(d, "/process/rlimits/0/soft", json!(2048)),
        "process.rlimits[0].soft",
        "soft limit 2048 exceeds hard limit 1024",
    ),
    case(
        "rlimit_hard_required",
        |d| del(d, "/process/rlimits/0/hard"),
        "process.rlimits[0].hard",
        "required",
    ),
    case(
        "rlimit_type_required",
        |d| del(d, "/process/rlimits/0/type"),
        "process.rlimits[0].type",
        "required",
    ),
    case(
        "rlimit_negative",
        |d| {
            set(d, "/process/rlimits/0/soft", json!(-1));
        },
        "process.rlimits[0].soft",
        "expected u64",
    ),
    case(
        "oom_score_adj_range",
        |d| set(d, "/process/oomScoreAdj", json!(1001)),
        "process.oomScoreAdj",
        "1001 is outside -1000..1000",
    ),
    case(
        "apparmor_type",
        |d| set(d, "/process/apparmorProfile", json!(7)),
        "process.apparmorProfile",
        "expected a string",
    ),
    case(
        "mounts_not_array",
        |d| set(d, "/mounts", json!({})),
        "mounts",
        "expected an array, found object",
    ),
    case(
        "mount_destination_relative",
        |d| set(d, "/mounts/2/destination", json!("dev/pts")),
        "mounts[2].destination",
        "must be absolute",
    ),
    case(
        "mount_destination_required",
        |d| del(d, "/mounts/0/destination"),
        "mounts[0].destination",
        "required",
    ),
    case(
        "mount_destination_nul",
        |d| set(d, "/mounts/1/destination", json!("/dev\u{0}/x")),
        "mounts[1].destination",
        "contains a NUL byte",
    ),
    case(
        "mount_source_nul",
        |d| set(d, "/mounts/3/source", json!("s\u{0}hm")),
        "mounts[3].source",
        "contains a NUL byte",
    ),
    case(
        "mount_options_type",
        |d| set(d, "/mounts/4/options", json!(["ro", false])),
        "mounts[4].options[1]",
        "expected a string, found boolean",
    ),
    case(
        "namespace_unknown",
        |d| set(d, "/linux/namespaces/0/type", json!("pidfd")),
        "linux.namespaces[0].type",
        "unknown namespace type \"pidfd\"",
    ),
    case(
        "namespace_duplicate",
        |d| set(d, "/linux/namespaces/5", json!({"type": "pid"})),
        "linux.namespaces[5].type",
        "duplicate namespace \"pid\" (also at linux.namespaces[0])",
    ),
    case(
        "namespace_type_required",
        |d| del(d, "/linux/namespaces/2/type"),
        "linux.namespaces[2].type",
        "required",
    ),
    case(
        "namespace_path_relative",
        |d| set(d, "/linux/namespaces/1/path", json!("proc/1/ns/net")),
        "linux.namespaces[1].path",
        "must be absolute",
    ),
    case(
        "userns_without_mappings",
        |d| set(d, "/linux/namespaces/5", json!({"type": "user"})),
        "linux.uidMappings",
        "required when creating a user namespace",
    ),
    case(
        "userns_without_gid_mappings",
        |d| {
            set(d, "/linux/namespaces/5", json!({"type": "user"}));
            set(
                d,
                "/linux/uidMappings",
                json!([{"containerID": 0, "hostID": 1000, "size": 1}]),
            );
        },
        "linux.gidMappings",
        "required when creating a user namespace",
    ),
    case(
        "mappings_without_userns",
        |d| {
            set(
                d,
                "/linux/uidMappings",
                json!([{"containerID": 0, "hostID": 1000, "size": 1}]),
            )
        },
        "linux.uidMappings",
        "no user namespace",
    ),
    every(
        "mapping_size_zero",
        |d| set(d, "/linux/gidMappings/0/size", json!(0)),
        "linux.gidMappings[0].size",
        "must be greater than zero",
    ),
    every(
        "mapping_host_id_required",
        |d| del(d, "/linux/uidMappings/0/hostID"),
        "linux.uidMappings[0].hostID",
        "required",
    ),
    case(
        "sysctl_not_namespaced",
        |d| set(d, "/linux/sysctl", json!({"kernel.foo": "1"})),
        "linux.sysctl[\"kernel.foo\"]",
        "sysctl is not in a separate kernel namespace",
    ),
    case(
        "sysctl_vm_not_namespaced",
        |d| set(d, "/linux/sysctl", json!({"vm.swappiness": "1"})),
        "linux.sysctl[\"vm.swappiness\"]",
        "sysctl is not in a separate kernel namespace",
    ),
    case(
        "sysctl_ipc_needs_ipcns",
        |d| {
            del(d, "/linux/namespaces/2");
            set(d, "/linux/sysctl", json!({"kernel.shmmax": "1"}));
        },
        "linux.sysctl[\"kernel.shmmax\"]",
        "host ipc namespace",
    ),
    case(
        "sysctl_mqueue_needs_ipcns",
        |d| {
            del(d, "/linux/namespaces/2");
            set(d, "/linux/sysctl", json!({"fs.mqueue.msg_max": "1"}));
        },
        "linux.sysctl[\"fs.mqueue.msg_max\"]",
        "host ipc namespace",
    ),
    case(
        "sysctl_net_needs_netns",
        |d| {
            del(d, "/linux/namespaces/1");
            set(d, "/linux/sysctl", json!({"net.ipv4.ip_forward": "1"}));
        },
        "linux.sysctl[\"net.ipv4.ip_forward\"]",
        "host network namespace",
    ),
    case(
        "sysctl_net_in_host_netns_by_path",
        |d| {
            set(d, "/linux/namespaces/1/path", json!("/proc/self/ns/net"));
            set(d, "/linux/sysctl", json!({"net.ipv4.ip_forward": "1"}));
        },
        "linux.sysctl[\"net.ipv4.ip_forward\"]",
        "host network namespace (linux.namespaces[1].path is the host's)",
    ),
    case(
        "sysctl_joined_netns_missing",
        |d| {
            set(d, "/linux/namespaces/1/path", json!("/nonexistent/netns"));
            set(d, "/linux/sysctl", json!({"net.core.somaxconn": "1"}));
        },
        "linux.namespaces[1].path",
        "ENOENT",
    ),
    case(
        "sysctl_hostname_conflicts",
        |d| set(d, "/linux/sysctl", json!({"kernel.hostname": "x"})),
        "linux.sysctl[\"kernel.hostname\"]",
        "conflicts with the hostname field",
    ),
    case(
        "sysctl_domainname_needs_utsns",
        |d| {
            del(d, "/hostname");
            del(d, "/linux/namespaces/3");
            set(d, "/linux/sysctl", json!({"kernel.domainname": "x"}));
        },
        "linux.sysctl[\"kernel.domainname\"]",
        "sysctl is not in a separate kernel namespace",
    ),
    case(
        "sysctl_value_type",
        |d| set(d, "/linux/sysctl", json!({"kernel.shmmax": 1})),
        "linux.sysctl[\"kernel.shmmax\"]",
        "expected a string, found number",
    ),
    case(
        "hostname_needs_utsns",
        |d| del(d, "/linux/namespaces/3"),
        "hostname",
        "without a uts namespace",
    ),
    case(
        "domainname_needs_utsns",
        |d| {
            del(d, "/hostname");
            del(d, "/linux/namespaces/3");
            set(d, "/domainname", json!("x"));
        },
        "domainname",
        "without a uts namespace",
    ),
    case(
        "hostname_too_long",
        |d| set(d, "/hostname", json!("h".repeat(65))),
        "hostname",
        "longer than 64 bytes",
    ),
    case(
        "hostname_without_linux",
        |d| del(d, "/linux"),
        "hostname",
        "without a uts namespace",
    ),
    every(
        "device_type_a",
        |d| set(d, "/linux/devices/0/type", json!("a")),
        "linux.devices[0].type",
        "unknown device type \"a\" (expected c, b, u or p)",
    ),
    every(
        "device_path_relative",
        |d| set(d, "/linux/devices/1/path", json!("dev/loop9")),
        "linux.devices[1].path",
        "must be absolute",
    ),
    every(
        "device_major_required",
        |d| del(d, "/linux/devices/0/major"),
        "linux.devices[0].major",
        "required",
    ),
    every(
        "device_type_required",
        |d| del(d, "/linux/devices/2/type"),
        "linux.devices[2].type",
        "required",
    ),
    case(
        "masked_path_relative",
        |d| set(d, "/linux/maskedPaths/2", json!("proc/kcore")),
        "linux.maskedPaths[2]",
        "must be absolute",
    ),
    case(
        "readonly_path_relative",
        |d| set(d, "/linux/readonlyPaths/0", json!("proc/bus")),
        "linux.readonlyPaths[0]",
        "must be absolute",
    ),
    every(
        "hook_path_relative",
        |d| set(d, "/hooks/prestart/0/path", json!("bin/true")),
        "hooks.prestart[0].path",
        "must be absolute",
    ),
    every(
        "hook_path_required",
        |d| del(d, "/hooks/startContainer/0/path"),
        "hooks.startContainer[0].path",
        "required",
    ),
    every(
        "hook_timeout_zero",
        |d| set(d, "/hooks/poststop/0/timeout", json!(0)),
        "hooks.poststop[0].timeout",
        "must be greater than zero",
    ),
    every(
        "hook_env_malformed",
        |d| set(d, "/hooks/createRuntime/0/env/0", json!("A")),
        "hooks.createRuntime[0].env[0]",
        "expected NAME=VALUE",
    ),
    every(
        "rootfs_propagation_unknown",
        |d| set(d, "/linux/rootfsPropagation", json!("bogus")),
        "linux.rootfsPropagation",
        "unknown propagation \"bogus\"",
    ),
    every(
        "time_offsets_without_timens",
        |d| del(d, "/linux/namespaces/7"),
        "linux.timeOffsets",
        "needs a new time namespace",
    ),
    every(
        "time_offsets_unknown_clock",
        |d| set(d, "/linux/timeOffsets/realtime", json!({"secs": 1})),
        "linux.timeOffsets[\"realtime\"]",
        "unknown clock",
    ),
    every(
        "seccomp_action_unknown",
        |d| set(d, "/linux/seccomp/defaultAction", json!("SCMP_ACT_FOO")),
        "linux.seccomp.defaultAction",
        "unknown variant `SCMP_ACT_FOO`",
    ),
    every(
        "seccomp_syscall_action_unknown",
        |d| set(d, "/linux/seccomp/syscalls/0/action", json!("ALLOW")),
        "linux.seccomp.syscalls[0].action",
        "unknown variant `ALLOW`",
    ),
    every(
        "memory_limit_type",
        |d| set(d, "/linux/resources/memory/limit", json!("1G")),
        "linux.resources.memory.limit",
        "expected i64",
    ),
    every(
        "scheduler_policy_unknown",
        |d| set(d, "/process/scheduler/policy", json!("SCHED_FAST")),
        "process.scheduler.policy",
        "unknown variant `SCHED_FAST`",
    ),
];

#[test]
fn malformed_configs_name_their_field() {
    assert!(CASES.len() >= 30);
    let mut failures = Vec::new();
    for c in CASES {
        let mut doc = if c.every {
            every_field()
        } else {
            default_spec()
        };
        (c.edit)(&mut doc);
        match parse_value(&doc) {
            Ok(_) => failures.push(format!("{}: accepted", c.name)),
            Err(e) => {
                let msg = e.to_string();
                if e.field() != Some(c.field) || !msg.contains(c.msg) {
                    failures.push(format!(
                        "{}: got {msg:?}, want field {:?} with {:?}",
                        c.name, c.field, c.msg
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn both_good_bases_are_accepted() {
    // The table's cases only prove something if their starting points are good.
    parse_value(&default_spec()).unwrap();
    parse_value(&every_field()).unwrap();
}

#[test]
fn bad_json_names_line_and_column() {
    let b = TempBundle::new();
    let cases: &[(&[u8], &str)] = &[
        (
            b"{\"ociVersion\": ",
            "config.json: EOF while parsing a value at line 1 column 15",
        ),
        (
            b"{x",
            "config.json: key must be a string at line 1 column 2",
        ),
        (
            b"[1]",
            "config.json: expected a JSON object at the top level",
        ),
        (
            b"",
            "config.json: EOF while parsing a value at line 1 column 0",
        ),
        (b"\xff", "config.json: expected value at line 1 column 1"),
        (
            b"{} {}",
            "config.json: trailing characters at line 1 column 4",
        ),
    ];
    for (bytes, want) in cases {
        let e = parse(bytes, b.path()).unwrap_err();
        assert!(matches!(e, SpecError::Invalid { .. }));
        assert_eq!(e.to_string(), *want, "{:?}", String::from_utf8_lossy(bytes));
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let b = TempBundle::new();
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let e = parse(deep.as_bytes(), b.path()).unwrap_err();
    assert!(e.to_string().contains("recursion limit exceeded"), "{e}");
}
