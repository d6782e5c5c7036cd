//! Reading a server state file: what `show servers state` writes (HAProxy 2.6's version 1),
//! one line per server. Only the layout is checked here; config/server_state.rs matches the
//! lines to servers and applies them.
//!
//! As in HAProxy 2.6, a file whose first line is not `1`, or with a line of too few fields, is
//! not applied at all (a truncated dump must not half-apply); a bad value in one line only
//! skips that server.

/// Fields of a version-1 line: HAProxy accepts 20 (the older dumps) up to 25.
pub const MIN_FIELDS: usize = 20;
pub const MAX_FIELDS: usize = 25;

/// One server's line, by field position (see `show servers state`'s header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateLine {
    /// 1-based line number in the file.
    pub line: u32,
    /// At least `MIN_FIELDS` (`parse` makes sure), so the accessors index safely.
    fields: Vec<String>,
}

impl StateLine {
    pub fn be_id(&self) -> &str {
        &self.fields[0]
    }
    pub fn be_name(&self) -> &str {
        &self.fields[1]
    }
    pub fn srv_name(&self) -> &str {
        &self.fields[3]
    }
}

/// A dump of 100,000 servers is about 10 MB; anything larger is a wrong path.
const FILE_LIMIT: u64 = 64 << 20;

/// Why a whole file is not applied.
#[derive(Debug)]
pub enum ReadError {
    /// Missing, not a regular file, too large, not UTF-8 (config/files.rs's words).
    Open(String),
    /// The first line is not the version this reader knows (1).
    Version,
    /// This line has fewer than 20 or more than 25 fields.
    Corrupted(u32),
}

/// Reads and splits a state file.
pub fn read(path: &std::path::Path) -> Result<Vec<StateLine>, ReadError> {
    let text = super::files::read_text(path, FILE_LIMIT).map_err(ReadError::Open)?;
    parse(&text)
}

pub fn parse(text: &str) -> Result<Vec<StateLine>, ReadError> {
    let mut lines = text.lines();
    if lines.next().map(str::trim) != Some("1") {
        return Err(ReadError::Version);
    }
    let mut out = Vec::new();
    for (i, l) in lines.enumerate() {
        // The version line is line 1.
        let n = u32::try_from(i + 2).unwrap_or(u32::MAX);
        let l = l.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let fields: Vec<String> = l.split_ascii_whitespace().map(String::from).collect();
        if !(MIN_FIELDS..=MAX_FIELDS).contains(&fields.len()) {
            return Err(ReadError::Corrupted(n));
        }
        out.push(StateLine { line: n, fields });
    }
    Ok(out)
}

/// The values ringlb applies from one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Values {
    /// HAProxy's srv_op_state: 0 stopped, 1 starting, 2 running, 3 stopping.
    pub op_state: u8,
    /// srv_admin_state bits (`ADMIN_*`).
    pub admin: u8,
    pub uweight: u32,
    pub iweight: u32,
    /// srv_check_state bits (`CHECK_*`).
    pub check_state: u32,
}

pub const OP_STOPPED: u8 = 0;
/// Forced maintenance (`set server ... state maint`, or `disabled` with ADMIN_CMAINT).
pub const ADMIN_FMAINT: u8 = 0x01;
/// Maintenance from the configuration (`disabled`).
pub const ADMIN_CMAINT: u8 = 0x04;
/// Forced drain (`set server ... state drain`).
pub const ADMIN_FDRAIN: u8 = 0x08;
pub const CHECK_CONFIGURED: u32 = 0x02;
pub const CHECK_ENABLED: u32 = 0x04;
/// HAProxy's largest weight.
const MAX_WEIGHT: u32 = 256;

impl StateLine {
    /// The fields ringlb uses, or HAProxy's words for the first invalid one.
    pub fn values(&self) -> Result<Values, String> {
        let f = &self.fields;
        let num = |i: usize, name: &str, max: u32| -> Result<u32, String> {
            f[i].parse::<u32>()
                .ok()
                .filter(|v| *v <= max)
                .ok_or_else(|| format!("invalid {name} value '{}'", f[i]))
        };
        Ok(Values {
            op_state: num(5, "srv_op_state", 3)? as u8,
            admin: num(6, "srv_admin_state", 0xff)? as u8,
            uweight: num(7, "srv_uweight", MAX_WEIGHT)?,
            iweight: num(8, "srv_iweight", MAX_WEIGHT)?,
            check_state: num(13, "srv_check_state", 0xff)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "1\n# be_id be_name srv_id srv_name ...\n";

    #[test]
    fn reads_haproxy_lines_and_skips_comments() {
        let text = format!(
            "{HEAD}\n3 app 2 s2 127.0.0.1 2 8 1 1 0 1 0 2 0 0 0 0 - 18812 - 0 0 - - 0\n\
             3 app 4 s4 127.0.0.1 2 0 3 5 1 1 0 2 0 0 0 0 - 18814 -\n"
        );
        let lines = parse(&text).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].line, 4);
        assert_eq!((lines[0].be_name(), lines[0].srv_name()), ("app", "s2"));
        let v = lines[0].values().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((v.op_state, v.admin, v.uweight), (2, ADMIN_FDRAIN, 1));
        let v = lines[1].values().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((v.uweight, v.iweight), (3, 5));
    }

    #[test]
    fn a_short_line_or_a_wrong_version_rejects_the_file() {
        let short = format!("{HEAD}3 app 4 s4 127.0.0.1 2 0 7 5 1 1 0 2 0 0 0 0 - 18814\n");
        assert!(matches!(parse(&short), Err(ReadError::Corrupted(3))));
        assert!(matches!(parse("2\n"), Err(ReadError::Version)));
        assert!(matches!(parse(""), Err(ReadError::Version)));
    }

    #[test]
    fn a_bad_value_is_named() {
        let text = format!("{HEAD}3 app 2 s2 127.0.0.1 x 0 3 5 1 1 0 2 0 0 0 0 - 1 - 0 0 - - 0\n");
        let lines = parse(&text).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            lines[0].values(),
            Err("invalid srv_op_state value 'x'".to_string())
        );
    }
}
