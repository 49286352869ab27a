//! runtime-tools-tests: an OCI runtime spec conformance suite for any runc-compatible runtime.
//!
//! `runtime-tools-tests --runtime PATH [--filter REGEX] [--jobs N] [--keep]`
//!
//! Each test builds bundles whose rootfs holds busybox and the static `runtimetest` checker,
//! drives the runtime through `create`/`start`/`state`/`kill`/`delete` with a private `--root`,
//! and asserts from the host side and (through the checker) from inside the container. Output is
//! one TAP stream per spec section and a closing `N passed, N failed, N skipped` line.

mod groups;
mod harness;
mod host;

use harness::{Outcome, Suite, T};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// A test: a spec section (group), a name and the function that runs it.
pub struct Test {
    /// The spec section the test belongs to (one TAP stream per group).
    pub group: &'static str,
    /// The test name, named for the spec rule it checks.
    pub name: &'static str,
    /// The test body.
    pub run: fn(&mut T),
}

static CHECKER: &[u8] = include_bytes!(env!("RTT_CHECKER_PATH"));

fn usage() -> ! {
    eprintln!(
        "usage: runtime-tools-tests --runtime PATH [--filter REGEX] [--jobs N] [--keep] [--expect-fail FILE]"
    );
    std::process::exit(2);
}

fn main() {
    let mut runtime = None;
    let mut filter = None;
    let mut jobs = 1usize;
    let mut keep = false;
    let mut expected = ExpectedFailures::default();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--runtime" => runtime = args.next().map(PathBuf::from),
            "--filter" => filter = args.next(),
            "--jobs" | "-j" => {
                jobs = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or_else(|| usage())
            }
            "--keep" => keep = true,
            "--expect-fail" => {
                let path = args.next().unwrap_or_else(|| usage());
                expected = ExpectedFailures::load(&path).unwrap_or_else(|e| {
                    eprintln!("--expect-fail {path}: {e}");
                    std::process::exit(2);
                })
            }
            "--list" => {
                for t in groups::all() {
                    println!("{}/{}", t.group, t.name);
                }
                return;
            }
            _ => usage(),
        }
    }
    let Some(runtime) = runtime else { usage() };
    let runtime = std::fs::canonicalize(&runtime).unwrap_or_else(|e| {
        eprintln!("runtime {}: {e}", runtime.display());
        std::process::exit(2);
    });
    let filter = filter.map(|f| {
        regex::Regex::new(&f).unwrap_or_else(|e| {
            eprintln!("--filter: {e}");
            std::process::exit(2);
        })
    });

    // A private mount namespace (slave of the host's, so host mounts still show up) keeps the
    // host mounts the tests make (the rbind sources) from ever reaching the host.
    if let Err(e) = host::private_mount_ns() {
        eprintln!("{e}");
        std::process::exit(2);
    }

    let tmp = std::env::temp_dir().join(format!("rtt-run-{}", std::process::id()));
    std::fs::create_dir_all(tmp.join("root")).expect("create temp dir");
    let checker = tmp.join("runtimetest");
    std::fs::write(&checker, CHECKER).expect("write checker");
    std::fs::set_permissions(
        &checker,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let suite = Suite::new(runtime, tmp.clone(), checker);

    let tests: Vec<Test> = groups::all()
        .into_iter()
        .filter(|t| {
            filter
                .as_ref()
                .is_none_or(|f| f.is_match(&format!("{}/{}", t.group, t.name)))
        })
        .collect();
    let results: Vec<Mutex<Vec<harness::Assertion>>> =
        tests.iter().map(|_| Mutex::new(Vec::new())).collect();
    let next = AtomicUsize::new(0);
    let started = std::time::Instant::now();
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(test) = tests.get(i) else { break };
                let mut t = T::new(&suite, &format!("{}-{}", test.group, test.name));
                (test.run)(&mut t);
                if t.results.is_empty() {
                    t.check("ran", false, || "test recorded no assertion".into());
                }
                *results[i].lock().unwrap() = t.results;
            });
        }
    });

    let (mut pass, mut fail, mut skip, mut xfail) = (0, 0, 0, 0);
    let mut order: Vec<&'static str> = Vec::new();
    for t in &tests {
        if !order.contains(&t.group) {
            order.push(t.group);
        }
    }
    for g in order {
        let rows: Vec<(String, Outcome)> = tests
            .iter()
            .zip(&results)
            .filter(|(t, _)| t.group == g)
            .flat_map(|(t, r)| {
                r.lock()
                    .unwrap()
                    .iter()
                    .map(|a| (format!("{}: {}", t.name, a.name), a.outcome.clone()))
                    .collect::<Vec<_>>()
            })
            .collect();
        println!("# {g}");
        println!("TAP version 13");
        println!("1..{}", rows.len());
        for (i, (name, o)) in rows.iter().enumerate() {
            match o {
                Outcome::Pass if expected.contains(&format!("{g}/{name}")) => {
                    fail += 1;
                    println!("not ok {} - {g}/{name}", i + 1);
                    println!("  ---\n  message: \"passed, but listed as an expected failure: remove it from the list\"\n  ...");
                }
                Outcome::Pass => {
                    pass += 1;
                    println!("ok {} - {g}/{name}", i + 1);
                }
                Outcome::Fail(d) if expected.contains(&format!("{g}/{name}")) => {
                    xfail += 1;
                    println!("not ok {} - {g}/{name} # TODO expected failure", i + 1);
                    println!("  ---\n  message: {:?}\n  ...", d);
                }
                Outcome::Fail(d) => {
                    fail += 1;
                    println!("not ok {} - {g}/{name}", i + 1);
                    println!("  ---\n  message: {:?}\n  ...", d);
                }
                Outcome::Skip(why) => {
                    skip += 1;
                    println!("ok {} - {g}/{name} # SKIP {why}", i + 1);
                }
            }
        }
    }
    host::cleanup_cgroups(&suite.cgroup_parent());
    if !keep {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    eprintln!("# {:.1}s", started.elapsed().as_secs_f64());
    if xfail > 0 {
        println!("# {xfail} expected failures (listed with --expect-fail, not counted below)");
    }
    println!("{pass} passed, {fail} failed, {skip} skipped");
    std::process::exit(if fail > 0 { 1 } else { 0 });
}

/// Assertions a runtime is known to fail (`group/test: assertion` per line, `#` comments):
/// reported as TAP TODO, not counted as failures; one that passes is a failure, so the
/// list cannot go stale.
#[derive(Default)]
struct ExpectedFailures(Vec<String>);

impl ExpectedFailures {
    fn load(path: &str) -> std::io::Result<ExpectedFailures> {
        let text = std::fs::read_to_string(path)?;
        Ok(ExpectedFailures(
            text.lines()
                .map(|l| l.split('#').next().unwrap_or("").trim().to_string())
                .filter(|l| !l.is_empty())
                .collect(),
        ))
    }

    fn contains(&self, name: &str) -> bool {
        self.0.iter().any(|e| e == name)
    }
}
