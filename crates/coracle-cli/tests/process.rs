//! OCI runtime spec, config "Process": args, env, cwd, user, groups, umask, rlimits,
//! capabilities, noNewPrivileges, oomScoreAdj, and only stdio reaching the program.

mod common;

use common::*;
use serde_json::json;

fn status_field(status: &str, key: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .unwrap_or_default()
        .trim()
        .to_string()
}

#[test]
fn env_cwd_and_args_are_the_specs() {
    let rt = Runtime::new();
    let mut b = Bundle::new(&["sh", "-c", "echo \"$0|$FOO|$(pwd)|$#\"", "arg0", "x"]);
    b.edit(|c| {
        c["process"]["env"]
            .as_array_mut()
            .unwrap()
            .push(json!("FOO=bar baz"));
        c["process"]["cwd"] = json!("/tmp");
    });
    assert_eq!(rt.output_of(&b).trim(), "arg0|bar baz|/tmp|1");
}

#[test]
fn missing_cwd_fails_create_and_names_it() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("true");
    b.edit(|c| c["process"]["cwd"] = json!("/does/not/exist"));
    let (code, _, err) = rt.run(&b, &unique("cwd"));
    assert_eq!(code, 1);
    assert!(
        err.contains("/does/not/exist") && err.contains("ENOENT"),
        "{err}"
    );
    assert!(rt.ids().is_empty());
}

#[test]
fn user_groups_and_umask() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("id -u; id -g; id -G; umask");
    b.edit(|c| {
        c["process"]["user"] =
            json!({"uid": 1000, "gid": 1000, "additionalGids": [10, 20], "umask": 63})
    });
    let out = rt.output_of(&b);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "1000");
    assert_eq!(lines[1], "1000");
    let mut groups: Vec<&str> = lines[2].split_whitespace().collect();
    groups.sort();
    assert_eq!(groups, ["10", "1000", "20"]);
    assert_eq!(lines[3], "0077");
}

#[test]
fn capabilities_match_the_spec() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("cat /proc/self/status");
    b.edit(|c| {
        c["process"]["capabilities"] = json!({
            "bounding": ["CAP_KILL", "CAP_CHOWN"],
            "effective": ["CAP_KILL"],
            "permitted": ["CAP_KILL", "CAP_CHOWN"],
            "inheritable": ["CAP_KILL"],
            "ambient": ["CAP_KILL"]
        });
        c["process"]["noNewPrivileges"] = json!(false);
    });
    let st = rt.output_of(&b);
    let kill = 1u64 << 5;
    let chown = 1u64;
    let hex = |k: &str| u64::from_str_radix(&status_field(&st, k), 16).unwrap();
    assert_eq!(hex("CapBnd"), kill | chown);
    // execve of a non-root uid 0 keeps... uid 0: permitted = (inheritable|bounding) after exec for root.
    assert_eq!(hex("CapAmb"), kill);
    assert_eq!(hex("CapInh"), kill);
    assert_eq!(status_field(&st, "NoNewPrivs"), "0");
}

#[test]
fn non_root_user_gets_exactly_its_capabilities() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("cat /proc/self/status");
    b.edit(|c| {
        c["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        c["process"]["capabilities"] = json!({
            "bounding": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "effective": ["CAP_KILL"],
            "permitted": ["CAP_KILL"],
            "inheritable": ["CAP_KILL"],
            "ambient": ["CAP_KILL"]
        });
    });
    let st = rt.output_of(&b);
    let hex = |k: &str| u64::from_str_radix(&status_field(&st, k), 16).unwrap();
    let kill = 1u64 << 5;
    assert_eq!(hex("CapEff"), kill);
    assert_eq!(hex("CapPrm"), kill);
    assert_eq!(hex("CapAmb"), kill);
    assert_eq!(hex("CapBnd"), kill | (1 << 10));
    assert_eq!(status_field(&st, "NoNewPrivs"), "1");
    assert_eq!(
        status_field(&st, "Uid")
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["1000"; 4]
    );
}

#[test]
fn rlimits_are_applied() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("ulimit -n; ulimit -Hn; ulimit -c");
    b.edit(|c| {
        c["process"]["rlimits"] = json!([
            {"type": "RLIMIT_NOFILE", "soft": 333, "hard": 444},
            {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}
        ])
    });
    assert_eq!(rt.output_of(&b), "333\n444\n0\n");
}

#[test]
fn oom_score_adj_is_set() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("cat /proc/self/oom_score_adj");
    b.edit(|c| c["process"]["oomScoreAdj"] = json!(500));
    assert_eq!(rt.output_of(&b).trim(), "500");
}

#[test]
fn only_stdio_reaches_the_program() {
    let rt = Runtime::new();
    // ls opens one fd for the directory it lists.
    let out = rt.output_of(&Bundle::sh("ls /proc/self/fd"));
    let fds: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(fds, ["0", "1", "2", "3"], "{out}");
}

#[test]
fn preserve_fds_passes_extra_fds() {
    let rt = Runtime::new();
    let b = Bundle::sh("cat <&3; echo; ls /proc/self/fd | wc -l");
    let cmd = rt.command(&[
        "run",
        "--preserve-fds",
        "1",
        "--bundle",
        b.dir.to_str().unwrap(),
        &unique("fds"),
    ]);
    // The shell opens fd 3 without close-on-exec and execs coracle with it.
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("exec 3<\"$0\"; exec \"$@\"")
        .arg(b.dir.join("config.json"))
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("\"ociVersion\""), "{stdout}");
    // 0, 1, 2, the preserved 3, and ls's own directory fd.
    assert_eq!(stdout.lines().last().unwrap().trim(), "5");
}

#[test]
fn missing_program_fails_at_create() {
    let rt = Runtime::new();
    let b = Bundle::new(&["/bin/nonexistent-program"]);
    let id = unique("noexec");
    let out = rt.cmd(&["create", "--bundle", b.dir.to_str().unwrap(), &id]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("nonexistent-program"),
        "{}",
        text(&out.stderr)
    );
    assert!(rt.ids().is_empty());
}

#[test]
fn each_container_gets_its_own_session_keyring() {
    if !std::path::Path::new("/proc/keys").exists() {
        eprintln!("skipped: kernel without /proc/keys");
        return;
    }
    let rt = Runtime::new();
    let mut b = Bundle::new(&["cat", "/proc/keys"]);
    b.edit(|c| c["linux"]["maskedPaths"] = json!([]));
    let id = unique("keys");
    let (code, out, err) = rt.run(&b, &id);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("keyring   _ses.{id}:")), "{out}");
    let id2 = unique("nokeys");
    let out2 = rt.cmd(&[
        "run",
        "--no-new-keyring",
        "--bundle",
        b.dir.to_str().unwrap(),
        &id2,
    ]);
    assert!(out2.status.success(), "{}", text(&out2.stderr));
    assert!(!text(&out2.stdout).contains(&format!("_ses.{id2}")));
}

#[test]
fn the_program_starts_with_default_signal_dispositions() {
    let rt = Runtime::new();
    // cat, not sh: a shell ignores some signals itself.
    let st = rt.output_of(&Bundle::new(&["cat", "/proc/self/status"]));
    assert_eq!(
        status_field(&st, "SigIgn"),
        "0000000000000000",
        "ignored signals leaked from the runtime"
    );
    assert_eq!(status_field(&st, "SigBlk"), "0000000000000000");
}

#[test]
fn home_defaults_from_the_containers_passwd() {
    let rt = Runtime::new();
    let out = rt.output_of(&Bundle::sh("echo $HOME"));
    assert_eq!(out, "/root\n");
    let mut b = Bundle::sh("echo $HOME");
    b.edit(|c| c["process"]["user"] = json!({"uid": 1000, "gid": 1000}));
    assert_eq!(rt.output_of(&b), "/home/user\n");
    let mut b = Bundle::sh("echo $HOME");
    b.edit(|c| {
        c["process"]["env"]
            .as_array_mut()
            .unwrap()
            .push(json!("HOME=/elsewhere"))
    });
    assert_eq!(rt.output_of(&b), "/elsewhere\n");
}
