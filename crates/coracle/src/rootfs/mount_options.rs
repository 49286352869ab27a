//! `mounts[].options`: one static table, parsed as runc does.
//!
//! Known names become mount(2) flags, propagation changes applied after the
//! mount, or recursive `MOUNT_ATTR_*` changes applied with mount_setattr
//! (AT_RECURSIVE). Anything else goes to the file system as data
//! (`mode=755,size=65536k`).

use nix::mount::MsFlags;

use crate::sys::mount::{attr, MountAttr};

/// `MS_NOSYMFOLLOW` (Linux 5.10); nix's MsFlags lacks it.
pub(crate) const MS_NOSYMFOLLOW: MsFlags = MsFlags::from_bits_retain(libc::MS_NOSYMFOLLOW);

/// What one option name means.
#[derive(Debug, Clone, Copy)]
enum Opt {
    /// A mount(2) flag to set, or to clear (`rw` clears `MS_RDONLY`).
    Flag { clear: bool, flag: MsFlags },
    /// A propagation change, applied after the mount.
    Propagation(MsFlags),
    /// A recursive attribute, set or cleared with mount_setattr(AT_RECURSIVE).
    RecAttr { clear: bool, attr: u64 },
    /// `idmap` / `ridmap`: an idmapped mount.
    Idmap,
    /// `tmpcopyup`: copy the directory's contents into the new tmpfs.
    CopyUp,
}

const fn set(flag: MsFlags) -> Opt {
    Opt::Flag { clear: false, flag }
}
const fn clr(flag: MsFlags) -> Opt {
    Opt::Flag { clear: true, flag }
}
const fn rset(attr: u64) -> Opt {
    Opt::RecAttr { clear: false, attr }
}
const fn rclr(attr: u64) -> Opt {
    Opt::RecAttr { clear: true, attr }
}

/// The option names this build honours (idmapped mounts are refused).
pub fn supported_names() -> Vec<&'static str> {
    OPTIONS
        .iter()
        .filter(|(_, o)| !matches!(o, Opt::Idmap))
        .map(|(n, _)| *n)
        .collect()
}

/// The option table, same names and meanings as runc's `parseMountOptions`.
static OPTIONS: &[(&str, Opt)] = &[
    ("async", clr(MsFlags::MS_SYNCHRONOUS)),
    ("atime", clr(MsFlags::MS_NOATIME)),
    ("bind", set(MsFlags::MS_BIND)),
    ("defaults", set(MsFlags::empty())),
    ("dev", clr(MsFlags::MS_NODEV)),
    ("diratime", clr(MsFlags::MS_NODIRATIME)),
    ("dirsync", set(MsFlags::MS_DIRSYNC)),
    ("exec", clr(MsFlags::MS_NOEXEC)),
    ("iversion", set(MsFlags::MS_I_VERSION)),
    ("lazytime", set(MsFlags::MS_LAZYTIME)),
    ("loud", clr(MsFlags::MS_SILENT)),
    ("mand", set(MsFlags::MS_MANDLOCK)),
    ("noatime", set(MsFlags::MS_NOATIME)),
    ("nodev", set(MsFlags::MS_NODEV)),
    ("nodiratime", set(MsFlags::MS_NODIRATIME)),
    ("noexec", set(MsFlags::MS_NOEXEC)),
    ("noiversion", clr(MsFlags::MS_I_VERSION)),
    ("nolazytime", clr(MsFlags::MS_LAZYTIME)),
    ("nomand", clr(MsFlags::MS_MANDLOCK)),
    ("norelatime", clr(MsFlags::MS_RELATIME)),
    ("nostrictatime", clr(MsFlags::MS_STRICTATIME)),
    ("nosuid", set(MsFlags::MS_NOSUID)),
    ("nosymfollow", set(MS_NOSYMFOLLOW)),
    ("rbind", set(MsFlags::MS_BIND.union(MsFlags::MS_REC))),
    ("relatime", set(MsFlags::MS_RELATIME)),
    ("remount", set(MsFlags::MS_REMOUNT)),
    ("ro", set(MsFlags::MS_RDONLY)),
    ("rw", clr(MsFlags::MS_RDONLY)),
    ("silent", set(MsFlags::MS_SILENT)),
    ("strictatime", set(MsFlags::MS_STRICTATIME)),
    ("suid", clr(MsFlags::MS_NOSUID)),
    ("symfollow", clr(MS_NOSYMFOLLOW)),
    ("sync", set(MsFlags::MS_SYNCHRONOUS)),
    ("private", Opt::Propagation(MsFlags::MS_PRIVATE)),
    (
        "rprivate",
        Opt::Propagation(MsFlags::MS_PRIVATE.union(MsFlags::MS_REC)),
    ),
    ("shared", Opt::Propagation(MsFlags::MS_SHARED)),
    (
        "rshared",
        Opt::Propagation(MsFlags::MS_SHARED.union(MsFlags::MS_REC)),
    ),
    ("slave", Opt::Propagation(MsFlags::MS_SLAVE)),
    (
        "rslave",
        Opt::Propagation(MsFlags::MS_SLAVE.union(MsFlags::MS_REC)),
    ),
    ("unbindable", Opt::Propagation(MsFlags::MS_UNBINDABLE)),
    (
        "runbindable",
        Opt::Propagation(MsFlags::MS_UNBINDABLE.union(MsFlags::MS_REC)),
    ),
    ("rro", rset(attr::RDONLY)),
    ("rrw", rclr(attr::RDONLY)),
    ("rnosuid", rset(attr::NOSUID)),
    ("rsuid", rclr(attr::NOSUID)),
    ("rnodev", rset(attr::NODEV)),
    ("rdev", rclr(attr::NODEV)),
    ("rnoexec", rset(attr::NOEXEC)),
    ("rexec", rclr(attr::NOEXEC)),
    ("rnodiratime", rset(attr::NODIRATIME)),
    ("rdiratime", rclr(attr::NODIRATIME)),
    ("rrelatime", rset(attr::RELATIME)),
    ("rnorelatime", rclr(attr::RELATIME)),
    ("rnoatime", rset(attr::NOATIME)),
    ("ratime", rclr(attr::NOATIME)),
    ("rstrictatime", rset(attr::STRICTATIME)),
    ("rnostrictatime", rclr(attr::STRICTATIME)),
    ("rnosymfollow", rset(attr::NOSYMFOLLOW)),
    ("rsymfollow", rclr(attr::NOSYMFOLLOW)),
    ("idmap", Opt::Idmap),
    ("ridmap", Opt::Idmap),
    ("tmpcopyup", Opt::CopyUp),
];

/// A parsed option list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MountOptions {
    /// Flags for mount(2).
    pub flags: MsFlags,
    /// Propagation changes, in the order given.
    pub propagation: Vec<MsFlags>,
    /// Recursive attributes to set.
    pub rec_set: u64,
    /// Recursive attributes to clear.
    pub rec_clr: u64,
    /// File-system data, comma-joined when passed to mount(2).
    pub data: Vec<String>,
    /// `idmap` or `ridmap` was given.
    pub idmap: bool,
    /// `tmpcopyup` was given.
    pub copy_up: bool,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            flags: MsFlags::empty(),
            propagation: Vec::new(),
            rec_set: 0,
            rec_clr: 0,
            data: Vec::new(),
            idmap: false,
            copy_up: false,
        }
    }
}

impl MountOptions {
    /// The recursive attributes, if any option asked for one.
    pub fn rec_attr(&self) -> Option<MountAttr> {
        (self.rec_set != 0 || self.rec_clr != 0).then_some(MountAttr {
            attr_set: self.rec_set,
            attr_clr: self.rec_clr,
            ..MountAttr::default()
        })
    }
}

/// Parse `options` in order; a later option overrides an earlier one.
pub(crate) fn parse(options: &[String]) -> MountOptions {
    let mut out = MountOptions::default();
    for o in options {
        match OPTIONS
            .iter()
            .find(|(name, _)| name == o)
            .map(|(_, opt)| *opt)
        {
            Some(Opt::Flag { clear: false, flag }) => out.flags |= flag,
            Some(Opt::Flag { clear: true, flag }) => out.flags &= !flag,
            Some(Opt::Propagation(p)) => out.propagation.push(p),
            Some(Opt::RecAttr {
                clear: true,
                attr: a,
            }) => {
                out.rec_clr |= a;
                out.rec_set &= !a;
            }
            Some(Opt::RecAttr {
                clear: false,
                attr: a,
            }) => {
                out.rec_set |= a;
                out.rec_clr &= !a;
                // mount_setattr(2): an atime mode in attr_set needs the whole
                // MOUNT_ATTR__ATIME mask in attr_clr. RELATIME is 0, hence the `==`.
                if a & attr::ATIME_MASK == a {
                    out.rec_clr |= attr::ATIME_MASK;
                }
            }
            Some(Opt::Idmap) => out.idmap = true,
            Some(Opt::CopyUp) => out.copy_up = true,
            None => out.data.push(o.clone()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(opts: &[&str]) -> MountOptions {
        parse(&opts.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn table_matches_kernel_headers() {
        // Values from <linux/mount.h>, checked against libc where it has them.
        assert_eq!(libc::MS_NOSYMFOLLOW, 0x100);
        assert_eq!(MsFlags::MS_LAZYTIME.bits(), 0x2000000);
        assert_eq!(MsFlags::MS_I_VERSION.bits(), 1 << 23);
        assert_eq!(attr::RDONLY, 0x1);
        assert_eq!(attr::NOSUID, 0x2);
        assert_eq!(attr::NODEV, 0x4);
        assert_eq!(attr::NOEXEC, 0x8);
        assert_eq!(attr::ATIME_MASK, 0x70);
        assert_eq!(attr::NOATIME, 0x10);
        assert_eq!(attr::STRICTATIME, 0x20);
        assert_eq!(attr::NODIRATIME, 0x80);
        assert_eq!(attr::IDMAP, 0x100000);
        assert_eq!(attr::NOSYMFOLLOW, 0x200000);
        // No name appears twice.
        for (i, (a, _)) in OPTIONS.iter().enumerate() {
            assert!(OPTIONS[i + 1..].iter().all(|(b, _)| a != b), "{a} twice");
        }
    }

    #[test]
    fn flags_set_and_clear_in_order() {
        let o = p(&["ro", "nosuid", "nodev", "rw", "noexec"]);
        assert_eq!(
            o.flags,
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC
        );
        assert!(o.data.is_empty());
        let o = p(&["rbind", "ro", "nosymfollow"]);
        assert_eq!(
            o.flags,
            MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_RDONLY | MS_NOSYMFOLLOW
        );
    }

    #[test]
    fn unknown_options_are_data() {
        let o = p(&["nosuid", "mode=755", "size=65536k", "newinstance"]);
        assert_eq!(o.flags, MsFlags::MS_NOSUID);
        assert_eq!(o.data.join(","), "mode=755,size=65536k,newinstance");
    }

    #[test]
    fn propagation_kept_in_order() {
        let o = p(&["rslave", "private"]);
        assert_eq!(
            o.propagation,
            vec![MsFlags::MS_SLAVE | MsFlags::MS_REC, MsFlags::MS_PRIVATE]
        );
        assert!(o.flags.is_empty());
    }

    #[test]
    fn recursive_attrs() {
        let o = p(&["rro", "rnosuid", "rnoatime"]);
        assert_eq!(o.rec_set, attr::RDONLY | attr::NOSUID | attr::NOATIME);
        assert_eq!(o.rec_clr, attr::ATIME_MASK);
        let o = p(&["rro", "rrw"]);
        assert_eq!((o.rec_set, o.rec_clr), (0, attr::RDONLY));
        assert!(p(&["ro"]).rec_attr().is_none());
        let o = p(&["rrelatime"]);
        assert_eq!((o.rec_set, o.rec_clr), (0, attr::ATIME_MASK));
        assert!(o.rec_attr().is_some());
    }

    #[test]
    fn idmap_and_copyup_are_flagged() {
        assert!(p(&["idmap"]).idmap);
        assert!(p(&["ridmap"]).idmap);
        assert!(p(&["tmpcopyup"]).copy_up);
    }
}
