//! Log lines as runc (logrus) writes them.
//!
//! Text: `time="2024-01-02T03:04:05Z" level=error msg="container does not exist"`.
//! JSON: `{"level":"error","msg":"container does not exist","time":"2024-01-02T03:04:05Z"}`.
//! Lines go to `--log` (opened O_APPEND|O_CREAT|O_SYNC, mode 0644, as runc) or to stderr.
//! As in runc's `fatal`, an error logged to a file is also printed plain on stderr.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::cli::LogFormat;

/// A log level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// `--debug` only.
    Debug,
    /// Something failed that the lifecycle continues past (poststart/poststop hooks).
    Warning,
    /// Errors.
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            // logrus's name, which runc writes.
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

/// Where and how log lines are written.
#[derive(Debug)]
pub struct Logger {
    format: LogFormat,
    file: Option<File>,
    debug: bool,
}

impl Logger {
    /// A logger to stderr (used before `--log` is known and when it cannot be opened).
    pub fn stderr(format: LogFormat, debug: bool) -> Logger {
        Logger {
            format,
            file: None,
            debug,
        }
    }

    /// A logger appending to `path`.
    pub fn open(path: &Path, format: LogFormat, debug: bool) -> std::io::Result<Logger> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .custom_flags(libc::O_SYNC | libc::O_CLOEXEC)
            .mode(0o644)
            .open(path)?;
        Ok(Logger {
            format,
            file: Some(file),
            debug,
        })
    }

    /// Whether the log goes to a file rather than stderr.
    pub fn to_file(&self) -> bool {
        self.file.is_some()
    }

    /// Log a debug line (only with `--debug`).
    pub fn debug(&self, msg: &str) {
        if self.debug {
            self.write(Level::Debug, msg);
        }
    }

    /// Log an error the way runc's `fatal` does: to the log, and plain to stderr
    /// too when the log is a file.
    pub fn fatal(&self, msg: &str) {
        self.write(Level::Error, msg);
        if self.to_file() {
            let _ = writeln!(std::io::stderr(), "{msg}");
        }
    }

    /// Write one line at `level`. Failures to write the log are ignored: there is
    /// nowhere left to report them.
    pub fn write(&self, level: Level, msg: &str) {
        let line = format_line(self.format, level, msg, &timestamp(SystemTime::now()));
        match &self.file {
            Some(f) => {
                let _ = (&*f).write_all(line.as_bytes());
            }
            None => {
                let _ = std::io::stderr().write_all(line.as_bytes());
            }
        }
    }
}

/// One log line, newline included.
pub fn format_line(format: LogFormat, level: Level, msg: &str, time: &str) -> String {
    match format {
        LogFormat::Text => format!(
            "time={} level={} msg={}\n",
            text_value(time),
            text_value(level.as_str()),
            text_value(msg)
        ),
        LogFormat::Json => {
            // logrus' JSONFormatter: keys sorted, HTML-escaped like Go's encoder.
            format!(
                "{{\"level\":{},\"msg\":{},\"time\":{}}}\n",
                go_json_string(level.as_str()),
                go_json_string(msg),
                go_json_string(time)
            )
        }
    }
}

/// A JSON string as Go's encoding/json writes it (`<`, `>`, `&`, U+2028, U+2029 escaped).
fn go_json_string(s: &str) -> String {
    let plain = serde_json::Value::from(s).to_string();
    let mut out = String::with_capacity(plain.len());
    for c in plain.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// A logrus text value: bare when it has only "safe" characters, else Go-quoted (`%q`).
fn text_value(s: &str) -> String {
    let safe = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._/@^+".contains(c));
    if safe {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{07}' => out.push_str("\\a"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{0b}' => out.push_str("\\v"),
            c if (c as u32) < 0x80 && c.is_ascii_control() => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control() => {
                if (c as u32) <= 0xffff {
                    out.push_str(&format!("\\u{:04x}", c as u32))
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32))
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// RFC 3339 in UTC with whole seconds, as logrus' default timestamp format
/// (`time.RFC3339`); runc's log lines carry no fractional seconds.
pub fn timestamp(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const T: &str = "2024-01-02T03:04:05Z";

    #[test]
    fn text_format_matches_logrus() {
        assert_eq!(
            format_line(LogFormat::Text, Level::Error, "container does not exist", T),
            "time=\"2024-01-02T03:04:05Z\" level=error msg=\"container does not exist\"\n"
        );
        // logrus leaves "safe" values bare.
        assert_eq!(
            format_line(LogFormat::Text, Level::Debug, "started", T),
            "time=\"2024-01-02T03:04:05Z\" level=debug msg=started\n"
        );
        // runc's own usage error, as observed: quotes and newline escaped Go-style.
        assert_eq!(
            format_line(LogFormat::Text, Level::Error, "say \"x\"\n\u{1}", T),
            "time=\"2024-01-02T03:04:05Z\" level=error msg=\"say \\\"x\\\"\\n\\x01\"\n"
        );
        assert_eq!(
            format_line(LogFormat::Text, Level::Error, "", T),
            "time=\"2024-01-02T03:04:05Z\" level=error msg=\"\"\n"
        );
    }

    #[test]
    fn json_format_matches_logrus() {
        let line = format_line(LogFormat::Json, Level::Error, "container does not exist", T);
        assert_eq!(
            line,
            "{\"level\":\"error\",\"msg\":\"container does not exist\",\"time\":\"2024-01-02T03:04:05Z\"}\n"
        );
        let line = format_line(LogFormat::Json, Level::Debug, "a<b> & \"c\"\n", T);
        assert_eq!(
            line,
            "{\"level\":\"debug\",\"msg\":\"a\\u003cb\\u003e \\u0026 \\\"c\\\"\\n\",\"time\":\"2024-01-02T03:04:05Z\"}\n"
        );
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["msg"], "a<b> & \"c\"\n");
    }

    #[test]
    fn timestamps() {
        assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_704_164_645);
        assert_eq!(timestamp(t), T);
        // A leap day.
        let t = UNIX_EPOCH + Duration::from_secs(951_782_400 + 86_399);
        assert_eq!(timestamp(t), "2000-02-29T23:59:59Z");
    }

    #[test]
    fn file_logger_appends() {
        let dir = std::env::temp_dir().join(format!("coracle-cli-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log.json");
        std::fs::write(&path, "{\"earlier\":1}\n").unwrap();
        let log = Logger::open(&path, LogFormat::Json, false).unwrap();
        log.debug("hidden without --debug");
        log.write(Level::Error, "boom");
        drop(log);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(lines[0], "{\"earlier\":1}");
        let v: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(v["level"], "error");
        assert_eq!(v["msg"], "boom");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
