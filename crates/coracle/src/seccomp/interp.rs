//! A classic-BPF interpreter for tests (and the fuzz targets, which include this file by
//! path): runs a seccomp program on one `seccomp_data` and checks programs the way the
//! kernel's loader does. Pure and self-contained: it depends on `libc::sock_filter` only.

/// `struct seccomp_data` in native (little-endian) layout.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeccompData {
    pub nr: u32,
    pub arch: u32,
    pub ip: u64,
    pub args: [u64; 6],
}

impl SeccompData {
    fn word(&self, off: u32) -> Option<u32> {
        let mut b = [0u8; 64];
        b[0..4].copy_from_slice(&self.nr.to_le_bytes());
        b[4..8].copy_from_slice(&self.arch.to_le_bytes());
        b[8..16].copy_from_slice(&self.ip.to_le_bytes());
        for (i, a) in self.args.iter().enumerate() {
            b[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_le_bytes());
        }
        let o = off as usize;
        if !off.is_multiple_of(4) || o + 4 > 64 {
            return None;
        }
        Some(u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]))
    }
}

/// The filter's return value and how many instructions ran.
pub fn run(prog: &[libc::sock_filter], d: &SeccompData) -> Result<(u32, usize), String> {
    let (mut a, mut x) = (0u32, 0u32);
    let mut mem = [0u32; 16];
    let mut pc = 0usize;
    let mut steps = 0usize;
    loop {
        let ins = prog
            .get(pc)
            .ok_or_else(|| format!("pc {pc} beyond the program"))?;
        steps += 1;
        let k = ins.k;
        let class = ins.code & 0x07;
        let next = pc + 1;
        pc = next;
        match class {
            0x00 | 0x01 => {
                // LD / LDX
                let v = match ins.code & 0xe0 {
                    0x20 => d.word(k).ok_or_else(|| format!("bad load offset {k}"))?, // ABS
                    0x00 => k,                                                        // IMM
                    0x60 => *mem.get(k as usize).ok_or("bad mem slot")?,              // MEM
                    0x80 => 64,                                                       // LEN
                    m => return Err(format!("unsupported load mode {m:#x}")),
                };
                if ins.code & 0x18 != 0 {
                    return Err("only word loads".into());
                }
                if class == 0x00 {
                    a = v
                } else {
                    x = v
                }
            }
            0x02 => *mem.get_mut(k as usize).ok_or("bad mem slot")? = a,
            0x03 => *mem.get_mut(k as usize).ok_or("bad mem slot")? = x,
            0x04 => {
                let src = if ins.code & 0x08 != 0 { x } else { k };
                a = match ins.code & 0xf0 {
                    0x00 => a.wrapping_add(src),
                    0x10 => a.wrapping_sub(src),
                    0x20 => a.wrapping_mul(src),
                    0x30 => a.checked_div(src).ok_or("division by zero")?,
                    0x40 => a | src,
                    0x50 => a & src,
                    0x60 => a.checked_shl(src).unwrap_or(0),
                    0x70 => a.checked_shr(src).unwrap_or(0),
                    0x80 => a.wrapping_neg(),
                    0x90 => a.checked_rem(src).ok_or("division by zero")?,
                    0xa0 => a ^ src,
                    op => return Err(format!("unsupported alu op {op:#x}")),
                };
            }
            0x05 => {
                let src = if ins.code & 0x08 != 0 { x } else { k };
                let op = ins.code & 0xf0;
                if op == 0x00 {
                    pc = next + k as usize;
                } else {
                    let taken = match op {
                        0x10 => a == src,
                        0x20 => a > src,
                        0x30 => a >= src,
                        0x40 => a & src != 0,
                        _ => return Err(format!("unsupported jump op {op:#x}")),
                    };
                    pc = next + if taken { ins.jt } else { ins.jf } as usize;
                }
            }
            0x06 => {
                return Ok((if ins.code & 0x18 == 0x10 { a } else { k }, steps));
            }
            0x07 => {
                if ins.code & 0xf8 == 0x00 {
                    x = a // TAX
                } else {
                    a = x // TXA
                }
            }
            _ => unreachable!(),
        }
    }
}

/// The loader's checks: length 1..=4096, every jump lands inside the program, loads from
/// `seccomp_data` aligned and in bounds, and the last instruction returns.
pub fn validate(prog: &[libc::sock_filter]) -> Result<(), String> {
    if prog.is_empty() || prog.len() > 4096 {
        return Err(format!("length {}", prog.len()));
    }
    for (pc, ins) in prog.iter().enumerate() {
        let class = ins.code & 0x07;
        if class == 0x05 {
            let far = if ins.code & 0xf0 == 0 {
                ins.k as usize
            } else {
                ins.jt.max(ins.jf) as usize
            };
            if pc + 1 + far >= prog.len() {
                return Err(format!("jump at {pc} leaves the program"));
            }
        }
        if class == 0x00 && ins.code & 0xe0 == 0x20 && (!ins.k.is_multiple_of(4) || ins.k >= 64) {
            return Err(format!("load at {pc} of offset {}", ins.k));
        }
    }
    if prog[prog.len() - 1].code & 0x07 != 0x06 {
        return Err("the last instruction does not return".into());
    }
    Ok(())
}
