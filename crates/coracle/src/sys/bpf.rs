//! bpf(2): load, attach, query and detach cgroup programs, without libbpf.
//!
//! Each command gets its own `#[repr(C)]` prefix of `union bpf_attr` holding only the
//! fields it uses: the kernel accepts a shorter attr (it zero-fills the rest), so these
//! structs work on every kernel since the command appeared.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::errno::Errno;

/// `enum bpf_cmd` values used here (include/uapi/linux/bpf.h).
const BPF_PROG_LOAD: libc::c_int = 5;
const BPF_PROG_ATTACH: libc::c_int = 8;
const BPF_PROG_DETACH: libc::c_int = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_int = 13;
const BPF_OBJ_GET_INFO_BY_FD: libc::c_int = 15;
const BPF_PROG_QUERY: libc::c_int = 16;

/// `BPF_PROG_TYPE_CGROUP_DEVICE`.
pub const PROG_TYPE_CGROUP_DEVICE: u32 = 15;
/// `BPF_CGROUP_DEVICE` attach type.
pub const ATTACH_CGROUP_DEVICE: u32 = 6;
/// `BPF_F_ALLOW_MULTI`: several programs on one cgroup, all of which must allow.
pub const F_ALLOW_MULTI: u32 = 1 << 1;
/// `BPF_F_REPLACE` (Linux 5.6): atomically swap `replace_bpf_fd` for the new program.
pub const F_REPLACE: u32 = 1 << 2;
/// Longest program name the kernel keeps (`BPF_OBJ_NAME_LEN`, with the NUL).
pub const OBJ_NAME_LEN: usize = 16;

/// One eBPF instruction, `struct bpf_insn`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    /// Opcode: class | size/op | source/mode.
    pub code: u8,
    /// dst_reg in the low nibble, src_reg in the high one.
    pub regs: u8,
    /// Signed jump or memory offset.
    pub off: i16,
    /// Signed immediate.
    pub imm: i32,
}

#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; OBJ_NAME_LEN],
}

#[repr(C)]
#[derive(Default)]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

#[repr(C)]
#[derive(Default)]
struct QueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    _pad: u32,
}

#[repr(C)]
#[derive(Default)]
struct GetFdByIdAttr {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

#[repr(C)]
#[derive(Default)]
struct InfoByFdAttr {
    bpf_fd: u32,
    info_len: u32,
    info: u64,
}

/// The leading fields of `struct bpf_prog_info` up to the name (Linux 4.15 layout).
#[repr(C)]
#[derive(Default)]
struct ProgInfoPrefix {
    prog_type: u32,
    id: u32,
    tag: [u8; 8],
    jited_prog_len: u32,
    xlated_prog_len: u32,
    jited_prog_insns: u64,
    xlated_prog_insns: u64,
    load_time: u64,
    created_by_uid: u32,
    nr_map_ids: u32,
    map_ids: u64,
    name: [u8; OBJ_NAME_LEN],
}

/// bpf(cmd, attr, sizeof attr) for a `#[repr(C)]` attr struct.
///
/// # Safety
/// Every pointer stored in `attr` must point to memory valid for the access the
/// command makes (read or write, of the length given beside it) for the whole call.
unsafe fn bpf<T>(cmd: libc::c_int, attr: &mut T) -> nix::Result<libc::c_long> {
    // SAFETY: `attr` is a live, exclusively borrowed repr(C) struct of the given size;
    // the caller vouches for the pointers inside it.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T as *mut libc::c_void,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    Errno::result(ret)
}

/// What BPF_PROG_LOAD needs besides the instructions.
pub struct LoadOptions<'a> {
    /// `BPF_PROG_TYPE_*`.
    pub prog_type: u32,
    /// License string, NUL-terminated (the kernel reads it as a C string).
    pub license: &'a std::ffi::CStr,
    /// Program name as `bpftool prog` shows it (truncated to 15 bytes; `[A-Za-z0-9_.]`).
    pub name: &'a str,
    /// Verifier log buffer: with `Some`, log level 1 and the kernel writes its messages
    /// here (NUL-terminated).
    pub log: Option<&'a mut [u8]>,
}

/// BPF_PROG_LOAD: verify and load `insns`; the new program fd is close-on-exec (the
/// kernel always sets O_CLOEXEC on bpf fds).
pub fn prog_load(insns: &[Insn], opts: LoadOptions<'_>) -> nix::Result<OwnedFd> {
    let mut name = [0u8; OBJ_NAME_LEN];
    for (dst, src) in name
        .iter_mut()
        .zip(opts.name.bytes().take(OBJ_NAME_LEN - 1))
    {
        *dst = src;
    }
    let mut attr = ProgLoadAttr {
        prog_type: opts.prog_type,
        insn_cnt: u32::try_from(insns.len()).map_err(|_| Errno::E2BIG)?,
        insns: insns.as_ptr() as u64,
        license: opts.license.as_ptr() as u64,
        prog_name: name,
        ..Default::default()
    };
    if let Some(log) = opts.log {
        attr.log_level = 1;
        attr.log_size = u32::try_from(log.len()).unwrap_or(u32::MAX);
        attr.log_buf = log.as_mut_ptr() as u64;
    }
    // SAFETY: insns (insn_cnt entries) and the NUL-terminated license are borrowed for the
    // call; the log buffer, if any, is exclusively borrowed with its true length.
    let fd = unsafe { bpf(BPF_PROG_LOAD, &mut attr)? };
    // SAFETY: on success the kernel returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// BPF_PROG_ATTACH `prog` to `target` (a cgroup directory fd). With `replace`, the flags
/// must include [`F_REPLACE`] and the kernel swaps that program for `prog` atomically.
pub fn prog_attach(
    target: BorrowedFd<'_>,
    prog: BorrowedFd<'_>,
    attach_type: u32,
    flags: u32,
    replace: Option<BorrowedFd<'_>>,
) -> nix::Result<()> {
    let mut attr = AttachAttr {
        target_fd: target.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type,
        attach_flags: flags,
        replace_bpf_fd: replace.map_or(0, |fd| fd.as_raw_fd() as u32),
    };
    // SAFETY: the attr holds only fds borrowed for the call, no pointers.
    unsafe { bpf(BPF_PROG_ATTACH, &mut attr) }.map(drop)
}

/// BPF_PROG_DETACH: remove the attachment of `prog` (as BPF_F_ALLOW_MULTI requires it
/// named) from `target`.
pub fn prog_detach(
    target: BorrowedFd<'_>,
    prog: BorrowedFd<'_>,
    attach_type: u32,
) -> nix::Result<()> {
    let mut attr = AttachAttr {
        target_fd: target.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type,
        ..Default::default()
    };
    // SAFETY: the attr holds only fds borrowed for the call, no pointers.
    unsafe { bpf(BPF_PROG_DETACH, &mut attr) }.map(drop)
}

/// BPF_PROG_QUERY: the ids of the programs attached directly to `target` for
/// `attach_type` (not the inherited, effective ones), in execution order.
pub fn prog_query(target: BorrowedFd<'_>, attach_type: u32) -> nix::Result<Vec<u32>> {
    // A cgroup holds at most 64 programs per attach type; grow on ENOSPC all the same
    // (a racing attach can add one between two calls).
    let mut ids = vec![0u32; 64];
    for _ in 0..10 {
        let mut attr = QueryAttr {
            target_fd: target.as_raw_fd() as u32,
            attach_type,
            prog_ids: ids.as_mut_ptr() as u64,
            prog_cnt: ids.len() as u32,
            ..Default::default()
        };
        // SAFETY: prog_ids points to `prog_cnt` writable u32s, exclusively borrowed.
        match unsafe { bpf(BPF_PROG_QUERY, &mut attr) } {
            Ok(_) => {
                ids.truncate(attr.prog_cnt as usize);
                return Ok(ids);
            }
            Err(Errno::ENOSPC) => ids.resize(attr.prog_cnt as usize + 1, 0),
            Err(e) => return Err(e),
        }
    }
    Err(Errno::ENOSPC)
}

/// BPF_PROG_GET_FD_BY_ID: an fd (close-on-exec) of the loaded program `id`.
pub fn prog_get_fd_by_id(id: u32) -> nix::Result<OwnedFd> {
    let mut attr = GetFdByIdAttr {
        prog_id: id,
        ..Default::default()
    };
    // SAFETY: the attr holds only integers.
    let fd = unsafe { bpf(BPF_PROG_GET_FD_BY_ID, &mut attr)? };
    // SAFETY: on success the kernel returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Identity of a loaded program, from BPF_OBJ_GET_INFO_BY_FD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgInfo {
    /// `BPF_PROG_TYPE_*`.
    pub prog_type: u32,
    /// Kernel-wide program id (what [`prog_query`] lists).
    pub id: u32,
    /// The name given at load time.
    pub name: String,
}

/// BPF_OBJ_GET_INFO_BY_FD for a program fd: its type, id and name.
pub fn prog_info(prog: BorrowedFd<'_>) -> nix::Result<ProgInfo> {
    let mut info = ProgInfoPrefix::default();
    let mut attr = InfoByFdAttr {
        bpf_fd: prog.as_raw_fd() as u32,
        info_len: std::mem::size_of::<ProgInfoPrefix>() as u32,
        info: &mut info as *mut ProgInfoPrefix as u64,
    };
    // SAFETY: `info` is a writable repr(C) struct of exactly `info_len` bytes, exclusively
    // borrowed for the call; every pointer field inside it is zero, so the kernel copies
    // no arrays out.
    unsafe { bpf(BPF_OBJ_GET_INFO_BY_FD, &mut attr)? };
    let len = info
        .name
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(OBJ_NAME_LEN);
    Ok(ProgInfo {
        prog_type: info.prog_type,
        id: info.id,
        name: String::from_utf8_lossy(&info.name[..len]).into_owned(),
    })
}

/// The program's instructions as the kernel holds them after verification
/// (BPF_OBJ_GET_INFO_BY_FD `xlated_prog_insns`; needs CAP_SYS_ADMIN or CAP_PERFMON).
pub fn prog_xlated(prog: BorrowedFd<'_>) -> nix::Result<Vec<Insn>> {
    let mut insns: Vec<Insn> = Vec::new();
    // Twice: the first call reports the length, the second copies that much.
    for _ in 0..2 {
        let mut info = ProgInfoPrefix {
            xlated_prog_len: (insns.len() * std::mem::size_of::<Insn>()) as u32,
            xlated_prog_insns: insns.as_mut_ptr() as u64,
            ..Default::default()
        };
        let mut attr = InfoByFdAttr {
            bpf_fd: prog.as_raw_fd() as u32,
            info_len: std::mem::size_of::<ProgInfoPrefix>() as u32,
            info: &mut info as *mut ProgInfoPrefix as u64,
        };
        // SAFETY: `info` is a writable repr(C) struct of `info_len` bytes; its only
        // non-null pointer, xlated_prog_insns, points to `insns`, writable for the
        // xlated_prog_len bytes stated; both are exclusively borrowed for the call.
        unsafe { bpf(BPF_OBJ_GET_INFO_BY_FD, &mut attr)? };
        let n = info.xlated_prog_len as usize / std::mem::size_of::<Insn>();
        if n <= insns.len() {
            insns.truncate(n);
            return Ok(insns);
        }
        let zero = Insn {
            code: 0,
            regs: 0,
            off: 0,
            imm: 0,
        };
        insns = vec![zero; n];
    }
    Err(Errno::EAGAIN)
}
