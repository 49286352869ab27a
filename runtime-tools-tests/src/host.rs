//! Host-side facts and helpers: the runner's private mount namespace, cgroup layout, namespace
//! inodes, and cleanup.

use std::ffi::CString;
use std::path::{Path, PathBuf};

/// Moves the runner into its own mount namespace whose mounts are slaves of the host's.
pub fn private_mount_ns() -> Result<(), String> {
    // SAFETY: called before any thread is spawned; unshare has no memory effects.
    if unsafe { libc::unshare(libc::CLONE_NEWNS) } != 0 {
        return Err(format!(
            "unshare(CLONE_NEWNS): {}",
            std::io::Error::last_os_error()
        ));
    }
    let root = CString::new("/").unwrap();
    // SAFETY: valid NUL-terminated path; null source/fstype/data are allowed for propagation.
    let rc = unsafe {
        libc::mount(
            std::ptr::null(),
            root.as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_SLAVE,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Err(format!(
            "make / rslave: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// Mounts a tmpfs at `target` (inside the runner's private mount namespace).
pub fn mount_tmpfs(target: &Path, data: &str) -> Result<(), String> {
    let t = CString::new(target.as_os_str().as_encoded_bytes()).unwrap();
    let fs = CString::new("tmpfs").unwrap();
    let d = CString::new(data).unwrap();
    // SAFETY: valid NUL-terminated strings that outlive the call.
    let rc = unsafe { libc::mount(fs.as_ptr(), t.as_ptr(), fs.as_ptr(), 0, d.as_ptr().cast()) };
    if rc != 0 {
        return Err(format!(
            "mount tmpfs on {}: {}",
            target.display(),
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// Detaches the mount at `target`.
pub fn umount(target: &Path) {
    let t = CString::new(target.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: valid NUL-terminated path.
    unsafe { libc::umount2(t.as_ptr(), libc::MNT_DETACH) };
}

/// Which cgroup layout the host has, as the runtime will see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cgroups {
    /// Pure cgroup v2 at /sys/fs/cgroup.
    V2,
    /// cgroup v1 controllers under /sys/fs/cgroup/<controller> (possibly hybrid).
    V1,
    /// Neither.
    None,
}

/// Detects the host cgroup layout.
pub fn cgroups() -> Cgroups {
    if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        Cgroups::V2
    } else if Path::new("/sys/fs/cgroup/memory").is_dir()
        || Path::new("/sys/fs/cgroup/pids").is_dir()
    {
        Cgroups::V1
    } else {
        Cgroups::None
    }
}

/// The host path of a cgroup file: v1 `controller` hierarchy or the v2 tree.
pub fn cgroup_file(controller: &str, cgroups_path: &str, file: &str) -> PathBuf {
    let rel = cgroups_path.trim_start_matches('/');
    match cgroups() {
        Cgroups::V2 => Path::new("/sys/fs/cgroup").join(rel).join(file),
        _ => Path::new("/sys/fs/cgroup")
            .join(controller)
            .join(rel)
            .join(file),
    }
}

/// Removes the run's cgroup parent directories (children first), ignoring errors.
pub fn cleanup_cgroups(parent: &str) {
    let rel = parent.trim_start_matches('/');
    let mut roots = vec![PathBuf::from("/sys/fs/cgroup")];
    if let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") {
        roots.extend(rd.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
    }
    for r in roots {
        let p = r.join(rel);
        if let Ok(rd) = std::fs::read_dir(&p) {
            for e in rd.flatten() {
                if e.path().is_dir() {
                    let _ = std::fs::remove_dir(e.path());
                }
            }
        }
        let _ = std::fs::remove_dir(&p);
    }
}

/// The namespace link (`net:[4026531840]`) of a process.
pub fn ns_link(pid: &str, kind: &str) -> Option<String> {
    std::fs::read_link(format!("/proc/{pid}/ns/{kind}"))
        .ok()
        .map(|p| p.display().to_string())
}

/// Whether the kernel supports time namespaces.
pub fn has_time_ns() -> bool {
    Path::new("/proc/self/ns/time").exists()
}

/// Whether the kernel supports user namespaces that we can create.
pub fn has_user_ns() -> bool {
    Path::new("/proc/self/ns/user").exists()
        && std::fs::read_to_string("/proc/sys/user/max_user_namespaces")
            .map(|s| s.trim() != "0")
            .unwrap_or(true)
}

/// A host process holding namespaces (from `unshare`), killed on drop.
pub struct NsHolder {
    child: std::process::Child,
    /// The pid whose /proc/PID/ns/* are the namespaces to join.
    pub pid: String,
}

impl NsHolder {
    /// Starts `unshare <flags> busybox sleep 60` and returns the holder once its namespaces
    /// exist. With `--fork` the sleeping process is a child of unshare.
    pub fn spawn(flags: &[&str]) -> Result<NsHolder, String> {
        let fork = flags.contains(&"--fork");
        let child = std::process::Command::new("unshare")
            .args(flags)
            .args(["/bin/busybox", "sleep", "60"])
            .stdin(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("spawn unshare: {e}"))?;
        let mut holder = NsHolder {
            pid: child.id().to_string(),
            child,
        };
        for _ in 0..500 {
            let pid = if fork {
                std::fs::read_to_string(format!(
                    "/proc/{}/task/{}/children",
                    holder.child.id(),
                    holder.child.id()
                ))
                .ok()
                .and_then(|s| s.split_whitespace().next().map(String::from))
            } else {
                Some(holder.child.id().to_string())
            };
            if let Some(pid) = pid {
                let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
                if comm.trim() == "busybox" || comm.trim() == "sleep" {
                    holder.pid = pid;
                    return Ok(holder);
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        Err("unshare holder did not start".into())
    }
}

impl Drop for NsHolder {
    fn drop(&mut self) {
        if let Ok(pid) = self.pid.parse::<i32>() {
            // SAFETY: signalling a process we started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
