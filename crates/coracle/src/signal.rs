//! Signal names and numbers, as runc's `kill` accepts them.
//!
//! `KILL`, `SIGKILL`, `kill`, `SigKill`, `9`, `RTMIN`, `RTMIN+3`, `SIGRTMAX-2`. Names
//! are matched without regard to case, with or without the `SIG` prefix. Numbers
//! must be 1 to 64: signal 0 only probes for a process and delivers nothing, so
//! `kill` refuses it rather than report a signal as sent.

use std::fmt;

/// An unknown or malformed signal; holds the text as given.
#[derive(Debug)]
pub struct SignalError(pub String);

impl fmt::Display for SignalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.0;
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            write!(f, "invalid signal {s:?}: signal numbers are 1 to {SIGMAX}")
        } else if rt_offset(&s.to_ascii_uppercase()).is_some() {
            write!(
                f,
                "invalid signal {s:?}: real-time signals are RTMIN ({RTMIN}) to RTMAX ({SIGMAX})"
            )
        } else {
            write!(f, "invalid signal {s:?}: unknown signal name")
        }
    }
}

impl std::error::Error for SignalError {}

/// The highest signal number on Linux (`_NSIG - 1`).
const SIGMAX: i32 = 64;

/// The first real-time signal as programs see it: glibc and musl reserve the
/// kernel's 32 and 33 for threading, so `SIGRTMIN` is 34 (what `kill -l`, Docker
/// and runc's callers mean by `RTMIN`).
const RTMIN: i32 = 34;

/// Every classic signal name, without `SIG`, with its Linux number. Aliases last.
pub const SIGNALS: &[(&str, i32)] = &[
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("STKFLT", libc::SIGSTKFLT),
    ("CHLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("PWR", libc::SIGPWR),
    ("SYS", libc::SIGSYS),
    // Aliases.
    ("IOT", libc::SIGIOT),
    ("CLD", libc::SIGCHLD),
    ("POLL", libc::SIGPOLL),
];

/// The offset from RTMIN of `RTMIN`, `RTMIN+n` or `RTMAX-n` (upper case, no `SIG`),
/// unchecked against the range.
fn rt_offset(name: &str) -> Option<i64> {
    let name = name.strip_prefix("SIG").unwrap_or(name);
    let num = |s: &str| -> Option<i64> {
        if s.is_empty() || s.len() > 3 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    let rtmax = i64::from(SIGMAX - RTMIN);
    match name {
        "RTMIN" => Some(0),
        "RTMAX" => Some(rtmax),
        _ => {
            if let Some(n) = name.strip_prefix("RTMIN+") {
                num(n)
            } else if let Some(n) = name.strip_prefix("RTMAX-") {
                num(n).map(|n| rtmax - n)
            } else {
                None
            }
        }
    }
}

/// Parse `KILL`, `SIGKILL`, `kill`, `9` or `RTMIN+3` into a signal number.
pub fn parse(s: &str) -> Result<i32, SignalError> {
    let err = || SignalError(s.to_string());
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        // Bounded length first, so "000…9" of any size cannot overflow.
        let digits = s.trim_start_matches('0');
        if digits.len() > 2 {
            return Err(err());
        }
        let n: i32 = digits.parse().unwrap_or(0);
        return if (1..=SIGMAX).contains(&n) {
            Ok(n)
        } else {
            Err(err())
        };
    }
    let upper = s.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(&(_, n)) = SIGNALS.iter().find(|(sig, _)| *sig == name) {
        return Ok(n);
    }
    match rt_offset(&upper) {
        Some(off) if (0..=i64::from(SIGMAX - RTMIN)).contains(&off) => {
            Ok(RTMIN + i32::try_from(off).map_err(|_| err())?)
        }
        _ => Err(err()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_and_without_sig_in_any_case() {
        for s in ["KILL", "SIGKILL", "kill", "sigkill", "SigKill", "9", "09"] {
            assert_eq!(parse(s).unwrap(), libc::SIGKILL, "{s}");
        }
        assert_eq!(parse("TERM").unwrap(), 15);
        assert_eq!(parse("sighup").unwrap(), 1);
        assert_eq!(parse("USR1").unwrap(), 10);
        assert_eq!(parse("SIGWINCH").unwrap(), 28);
        assert_eq!(parse("IOT").unwrap(), 6);
        assert_eq!(parse("CLD").unwrap(), 17);
    }

    #[test]
    fn realtime_signals() {
        assert_eq!(parse("RTMIN").unwrap(), 34);
        assert_eq!(parse("SIGRTMIN").unwrap(), 34);
        assert_eq!(parse("RTMIN+3").unwrap(), 37);
        assert_eq!(parse("rtmin+0").unwrap(), 34);
        assert_eq!(parse("RTMIN+30").unwrap(), 64);
        assert_eq!(parse("RTMAX").unwrap(), 64);
        assert_eq!(parse("SIGRTMAX-2").unwrap(), 62);
        assert_eq!(parse("RTMAX-30").unwrap(), 34);
    }

    #[test]
    fn rtmin_and_rtmax_match_libc() {
        assert_eq!(RTMIN, libc::SIGRTMIN());
        assert_eq!(SIGMAX, libc::SIGRTMAX());
    }

    #[test]
    fn numbers_are_1_to_64() {
        assert_eq!(parse("1").unwrap(), 1);
        assert_eq!(parse("64").unwrap(), 64);
        for s in [
            "0",
            "65",
            "00",
            "100",
            "99999999999999999999999",
            "-9",
            "+9",
            " 9",
            "9 ",
        ] {
            assert!(parse(s).is_err(), "{s} accepted");
        }
        assert_eq!(
            parse("0").unwrap_err().to_string(),
            "invalid signal \"0\": signal numbers are 1 to 64"
        );
    }

    #[test]
    fn garbage_and_out_of_range_names_are_rejected() {
        for s in [
            "",
            "SIG",
            "FOO",
            "SIGFOO",
            "SIGSIGKILL",
            "KILLL",
            "RTMIN+31",
            "RTMAX-31",
            "RTMIN+",
            "RTMIN-1",
            "RTMAX+1",
            "RTMIN+x",
            "RTMIN+0003",
            "kill\0",
            "ＫＩＬＬ",
        ] {
            assert!(parse(s).is_err(), "{s:?} accepted");
        }
        assert_eq!(
            parse("RTMIN+31").unwrap_err().to_string(),
            "invalid signal \"RTMIN+31\": real-time signals are RTMIN (34) to RTMAX (64)"
        );
        assert_eq!(
            parse("FOO").unwrap_err().to_string(),
            "invalid signal \"FOO\": unknown signal name"
        );
    }

    #[test]
    fn table_matches_nix_signal_names() {
        // nix's Signal enum is generated from the platform's headers.
        for sig in nix::sys::signal::Signal::iterator() {
            let name = sig.as_str();
            assert_eq!(parse(name).unwrap(), sig as i32, "{name}");
        }
        for (name, n) in SIGNALS {
            let sig = nix::sys::signal::Signal::try_from(*n).unwrap();
            assert_eq!(parse(&format!("SIG{name}")).unwrap(), sig as i32);
        }
        let primary = SIGNALS.iter().take_while(|(n, _)| *n != "IOT").count();
        assert_eq!(primary, nix::sys::signal::Signal::iterator().count());
    }
}
