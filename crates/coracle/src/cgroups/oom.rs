//! OOM kill notification. v2: inotify on memory.events (its `oom_kill` counter);
//! v1: an eventfd registered through cgroup.event_control for memory.oom_control.
//! Both report the increase of the kernel's oom_kill counter since the last read.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::eventfd::{EfdFlags, EventFd};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

use super::{fs, CgroupError};

enum Source {
    V2(Inotify),
    V1 {
        efd: EventFd,
        // Registered with the kernel together with the eventfd; kept open for the
        // watcher's lifetime.
        _control: OwnedFd,
    },
}

/// Becomes readable when the kernel reports an OOM event in the cgroup.
pub struct OomWatcher {
    source: Source,
    /// memory.events (v2) or memory.oom_control (v1).
    counter: PathBuf,
    last: u64,
}

impl std::fmt::Debug for OomWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OomWatcher")
            .field("counter", &self.counter)
            .field("last", &self.last)
            .finish()
    }
}

fn oom_kills(counter: &Path) -> Result<Option<u64>, CgroupError> {
    match fs::read_opt(counter)? {
        Some(text) => Ok(fs::key_values(counter, &text)?
            .into_iter()
            .find(|(k, _)| k == "oom_kill")
            .map(|(_, v)| v)),
        None => Ok(None),
    }
}

impl OomWatcher {
    pub(crate) fn v2(dir: &Path) -> Result<OomWatcher, CgroupError> {
        let counter = dir.join("memory.events");
        let inotify = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK)
            .map_err(|e| CgroupError::sys("inotify_init1 for", &counter, e))?;
        inotify
            .add_watch(&counter, AddWatchFlags::IN_MODIFY)
            .map_err(|e| CgroupError::sys("inotify_add_watch", &counter, e))?;
        let last = oom_kills(&counter)?.unwrap_or(0);
        Ok(OomWatcher {
            source: Source::V2(inotify),
            counter,
            last,
        })
    }

    pub(crate) fn v1(dir: &Path) -> Result<OomWatcher, CgroupError> {
        let counter = dir.join("memory.oom_control");
        let efd = EventFd::from_value_and_flags(0, EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)
            .map_err(|e| CgroupError::sys("eventfd for", &counter, e))?;
        let control: OwnedFd = std::fs::File::open(&counter)
            .map_err(|e| CgroupError::sys("open", &counter, fs::io_errno(&e)))?
            .into();
        use std::os::fd::AsRawFd;
        let line = format!("{} {}", efd.as_raw_fd(), control.as_raw_fd());
        let ec = dir.join("cgroup.event_control");
        fs::write_file(&ec, &line).map_err(|e| CgroupError::sys("write", &ec, e))?;
        let last = oom_kills(&counter)?.unwrap_or(0);
        Ok(OomWatcher {
            source: Source::V1 {
                efd,
                _control: control,
            },
            counter,
            last,
        })
    }

    /// Poll this for readability.
    pub fn fd(&self) -> BorrowedFd<'_> {
        match &self.source {
            Source::V2(i) => i.as_fd(),
            Source::V1 { efd, .. } => efd.as_fd(),
        }
    }

    /// After poll says readable: the number of new OOM kills (0 for other changes of
    /// the file, or when the cgroup is gone).
    pub fn read(&mut self) -> Result<u64, CgroupError> {
        let v1 = match &self.source {
            Source::V2(i) => {
                loop {
                    match i.read_events() {
                        Ok(ev) if !ev.is_empty() => continue,
                        Ok(_) | Err(Errno::EAGAIN) => break,
                        Err(e) => {
                            return Err(CgroupError::sys("read inotify for", &self.counter, e))
                        }
                    }
                }
                false
            }
            Source::V1 { efd, .. } => {
                match efd.read() {
                    Ok(_) | Err(Errno::EAGAIN) => {}
                    Err(e) => return Err(CgroupError::sys("read eventfd for", &self.counter, e)),
                }
                true
            }
        };
        // v1 signals when the OOM starts; the kill is counted a moment later.
        let tries = if v1 { 50 } else { 1 };
        for i in 0..tries {
            let Some(now) = oom_kills(&self.counter)? else {
                return Ok(0);
            };
            if now > self.last {
                let new = now - self.last;
                self.last = now;
                return Ok(new);
            }
            if i + 1 < tries {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        Ok(0)
    }
}
