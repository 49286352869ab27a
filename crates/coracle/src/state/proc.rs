//! Process identity from /proc/PID/stat: the start time tells a live init from
//! an unrelated process that reused its pid.

/// The state letter, parent pid (field 4) and start time (field 22) of a
/// /proc/PID/stat line.
///
/// The comm field (2) is in parentheses and may itself contain spaces and
/// parentheses, so the fields are counted from the last `)`.
fn parse_stat(stat: &[u8]) -> Option<(u8, i32, u64)> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&stat[close + 1..]).ok()?;
    let mut fields = rest.split_ascii_whitespace();
    // Field 3 is the state, 4 the parent; field 22 is 18 fields further on.
    let state = *fields.next()?.as_bytes().first()?;
    let ppid = fields.next()?.parse().ok()?;
    let start_time = fields.nth(17)?.parse().ok()?;
    Some((state, ppid, start_time))
}

fn read_stat(pid: i32) -> Option<(u8, i32, u64)> {
    if pid <= 0 {
        return None;
    }
    let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&stat)
}

/// The start time of `pid` (field 22 of /proc/PID/stat), `None` if it is gone.
pub fn process_start_time(pid: i32) -> Option<u64> {
    read_stat(pid).map(|(_, _, start_time)| start_time)
}

/// The parent of `pid`, `None` if it is gone.
pub fn parent_pid(pid: i32) -> Option<i32> {
    read_stat(pid).map(|(_, ppid, _)| ppid)
}

/// Whether `pid` is alive and still the process that had `start_time` (and not a zombie).
pub fn is_alive(pid: i32, start_time: u64) -> bool {
    match read_stat(pid) {
        // Z: zombie, X/x: dead (being torn down).
        Some((state, _, start)) => start == start_time && !matches!(state, b'Z' | b'X' | b'x'),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;
    use std::time::{Duration, Instant};

    /// A realistic stat line with `comm` in place of the command name.
    fn stat_line(comm: &str, state: char, start: u64) -> Vec<u8> {
        let mut fields = vec![format!("4242 ({comm}) {state}")];
        // Fields 4..=21.
        for n in 4..=21 {
            fields.push(n.to_string());
        }
        fields.push(start.to_string());
        fields.extend(["12345".to_string(), "678".to_string()]);
        (fields.join(" ") + "\n").into_bytes()
    }

    #[test]
    fn parse_stat_plain_comm() {
        assert_eq!(
            parse_stat(&stat_line("sleep", 'S', 987654)),
            Some((b'S', 4, 987654))
        );
    }

    #[test]
    fn parse_stat_comm_with_spaces_and_parens() {
        let line = stat_line("a) b (c) Z 1 2", 'R', 31337);
        assert_eq!(parse_stat(&line), Some((b'R', 4, 31337)));
    }

    #[test]
    fn parse_stat_comm_not_utf8() {
        let mut line = b"7 (\xff\xfe) ".to_vec();
        line.extend_from_slice(&stat_line("x", 'S', 55)[b"4242 (x) ".len()..]);
        assert_eq!(parse_stat(&line), Some((b'S', 4, 55)));
    }

    #[test]
    fn parse_stat_truncated_is_none() {
        assert_eq!(parse_stat(b"1 (init) S 0 1 1"), None);
        assert_eq!(parse_stat(b"1 (init"), None);
        assert_eq!(parse_stat(b""), None);
    }

    #[test]
    fn start_time_of_self_matches_proc_self() {
        let me = std::process::id() as i32;
        let start = process_start_time(me).expect("own stat");
        let own = std::fs::read("/proc/self/stat").unwrap();
        assert_eq!(parse_stat(&own).unwrap().2, start);
        assert!(is_alive(me, start));
        assert!(
            !is_alive(me, start + 1),
            "a different start time is another process"
        );
    }

    #[test]
    fn nonsense_pids_are_not_alive() {
        assert_eq!(process_start_time(0), None);
        assert_eq!(process_start_time(-1), None);
        assert!(!is_alive(0, 0));
        // pid_max is at most 2^22.
        assert_eq!(process_start_time(i32::MAX), None);
    }

    #[test]
    fn zombie_and_reaped_child_are_not_alive() {
        let mut child = Command::new("/bin/sleep").arg("100").spawn().unwrap();
        let pid = child.id() as i32;
        let start = process_start_time(pid).expect("child stat");
        assert!(is_alive(pid, start));
        child.kill().unwrap();
        // Not reaped yet: the zombie keeps its stat entry but is not alive.
        let deadline = Instant::now() + Duration::from_secs(10);
        while is_alive(pid, start) {
            assert!(
                Instant::now() < deadline,
                "killed child never became a zombie"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(process_start_time(pid), Some(start), "zombie still listed");
        child.wait().unwrap();
        assert!(!is_alive(pid, start));
        assert_ne!(process_start_time(pid), Some(start));
    }
}
