//! Dates as Elasticsearch reads and prints them: `format` lists such as
//! `strict_date_optional_time||epoch_millis` (the default), Java-style
//! patterns (`yyyy-MM-dd HH:mm:ss`), and date math in queries
//! (`now-1d/d`, `2020-01-01||+1M`).
//!
//! Values are milliseconds since the Unix epoch, UTC. Named formats of the
//! ISO family all accept the ISO-8601 forms from `2020` to
//! `2020-01-02T03:04:05.678+01:00`; that is more lenient than the `strict_`
//! variants, never less.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::EsError;

/// One alternative of a `format` list.
#[derive(Debug, Clone, PartialEq)]
enum Part {
    Iso,
    EpochMillis,
    EpochSecond,
    Pattern(Vec<Token>),
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Year(usize),
    Month(usize),
    Day(usize),
    Hour(usize),
    Minute(usize),
    Second(usize),
    Fraction(usize),
    Offset,
    Literal(char),
}

/// A date field's `format`: alternatives tried in order; the first prints.
#[derive(Debug, Clone, PartialEq)]
pub struct DateFormat {
    parts: Vec<Part>,
    text: String,
}

const DEFAULT: &str = "strict_date_optional_time||epoch_millis";

const ISO_NAMES: [&str; 24] = [
    "strict_date_optional_time",
    "date_optional_time",
    "strict_date_optional_time_nanos",
    "strict_date",
    "date",
    "strict_date_time",
    "date_time",
    "strict_date_time_no_millis",
    "date_time_no_millis",
    "strict_date_hour_minute_second",
    "date_hour_minute_second",
    "strict_date_hour_minute_second_millis",
    "date_hour_minute_second_millis",
    "strict_date_hour_minute",
    "date_hour_minute",
    "strict_year_month_day",
    "year_month_day",
    "strict_year_month",
    "year_month",
    "strict_year",
    "year",
    "iso8601",
    "strict_date_hour",
    "date_hour",
];

impl Default for DateFormat {
    fn default() -> DateFormat {
        DateFormat::parse(None).expect("the default format parses")
    }
}

impl DateFormat {
    /// Parses a `format` parameter (`None`: Elasticsearch's default).
    pub fn parse(format: Option<&str>) -> Result<DateFormat, EsError> {
        let text = format.unwrap_or(DEFAULT);
        let parts = text
            .split("||")
            .map(|p| match p.trim() {
                "epoch_millis" => Ok(Part::EpochMillis),
                "epoch_second" => Ok(Part::EpochSecond),
                name if ISO_NAMES.contains(&name) => Ok(Part::Iso),
                pattern => parse_pattern(pattern).map(Part::Pattern),
            })
            .collect::<Result<_, _>>()?;
        Ok(DateFormat { parts, text: text.to_owned() })
    }

    /// The format as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Reads a value: a string in one of the formats, or a number of
    /// milliseconds (seconds if the format is `epoch_second` only).
    pub fn parse_value(&self, text: &str) -> Option<i64> {
        self.parts.iter().find_map(|p| match p {
            Part::Iso => parse_iso(text),
            Part::EpochMillis => parse_epoch(text, 1),
            Part::EpochSecond => parse_epoch(text, 1000),
            Part::Pattern(tokens) => parse_with(tokens, text),
        })
    }

    /// Prints a value in the first format of the list.
    pub fn format(&self, millis: i64) -> String {
        match &self.parts[0] {
            Part::Iso => format_iso(millis),
            Part::EpochMillis => millis.to_string(),
            Part::EpochSecond => (millis.div_euclid(1000)).to_string(),
            Part::Pattern(tokens) => format_with(tokens, millis),
        }
    }
}

fn parse_pattern(pattern: &str) -> Result<Vec<Token>, EsError> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            let end = chars[i + 1..].iter().position(|&x| x == '\'').map(|p| i + 1 + p);
            let Some(end) = end else { return Err(bad_format(pattern)) };
            tokens.extend(chars[i + 1..end].iter().map(|&c| Token::Literal(c)));
            i = end + 1;
            continue;
        }
        let run = chars[i..].iter().take_while(|&&x| x == c).count();
        let token = match c {
            'y' | 'u' | 'Y' => Token::Year(run),
            'M' => Token::Month(run),
            'd' => Token::Day(run),
            'H' | 'k' => Token::Hour(run),
            'm' => Token::Minute(run),
            's' => Token::Second(run),
            'S' => Token::Fraction(run),
            'Z' | 'X' | 'x' => Token::Offset,
            c if c.is_ascii_alphabetic() => return Err(bad_format(pattern)),
            c => {
                tokens.extend(std::iter::repeat_n(Token::Literal(c), run));
                i += run;
                continue;
            }
        };
        tokens.push(token);
        i += run;
    }
    Ok(tokens)
}

fn bad_format(pattern: &str) -> EsError {
    EsError::mapper_parsing(format!("Invalid format: [{pattern}]: Unknown pattern letter or unsupported pattern"))
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day number.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    days_from_civil(if m == 12 { y + 1 } else { y }, if m == 12 { 1 } else { m + 1 }, 1) - days_from_civil(y, m, 1)
}

#[derive(Default)]
struct Fields {
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
    millis: i64,
    offset_minutes: i64,
}

impl Fields {
    fn to_millis(&self) -> Option<i64> {
        let valid = (1..=12).contains(&self.month)
            && (1..=days_in_month(self.year, self.month)).contains(&self.day)
            && (0..24).contains(&self.hour)
            && (0..60).contains(&self.minute)
            && (0..60).contains(&self.second);
        valid.then(|| {
            let days = days_from_civil(self.year, self.month, self.day);
            ((days * 24 + self.hour) * 60 + self.minute - self.offset_minutes) * 60_000
                + self.second * 1000
                + self.millis
        })
    }
}

fn parse_epoch(text: &str, unit: i64) -> Option<i64> {
    if let Ok(n) = text.parse::<i64>() {
        return n.checked_mul(unit);
    }
    let f: f64 = text.parse().ok().filter(|f: &f64| f.is_finite())?;
    Some((f * unit as f64) as i64)
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn digits(&mut self, min: usize, max: usize) -> Option<i64> {
        let start = self.i;
        while self.i < self.s.len() && self.i - start < max && self.s[self.i].is_ascii_digit() {
            self.i += 1;
        }
        if self.i - start < min {
            return None;
        }
        std::str::from_utf8(&self.s[start..self.i]).ok()?.parse().ok()
    }

    fn eat(&mut self, c: u8) -> bool {
        let ok = self.s.get(self.i) == Some(&c);
        self.i += usize::from(ok);
        ok
    }

    fn done(&self) -> bool {
        self.i == self.s.len()
    }

    fn fraction(&mut self) -> Option<i64> {
        let start = self.i;
        let n = self.digits(1, 9)?;
        let len = (self.i - start) as u32;
        Some(if len >= 3 { n / 10_i64.pow(len - 3) } else { n * 10_i64.pow(3 - len) })
    }

    fn offset(&mut self) -> Option<i64> {
        if self.eat(b'Z') || self.eat(b'z') {
            return Some(0);
        }
        let sign = if self.eat(b'+') {
            1
        } else if self.eat(b'-') {
            -1
        } else {
            return None;
        };
        let h = self.digits(2, 2)?;
        self.eat(b':');
        let m = self.digits(0, 2).unwrap_or(0);
        Some(sign * (h * 60 + m))
    }
}

fn parse_iso(text: &str) -> Option<i64> {
    let mut c = Cursor { s: text.as_bytes(), i: 0 };
    let negative = c.eat(b'-');
    let year = c.digits(4, 9)?;
    let mut f = Fields { year: if negative { -year } else { year }, month: 1, day: 1, ..Fields::default() };
    if c.eat(b'-') {
        f.month = c.digits(2, 2)?;
        if c.eat(b'-') {
            f.day = c.digits(2, 2)?;
            if c.eat(b'T') || c.eat(b' ') {
                f.hour = c.digits(2, 2)?;
                if c.eat(b':') {
                    f.minute = c.digits(2, 2)?;
                    if c.eat(b':') {
                        f.second = c.digits(2, 2)?;
                        if c.eat(b'.') || c.eat(b',') {
                            f.millis = c.fraction()?;
                        }
                    }
                }
                if !c.done() {
                    f.offset_minutes = c.offset()?;
                }
            }
        }
    }
    if !c.done() {
        return None;
    }
    f.to_millis()
}

fn parse_with(tokens: &[Token], text: &str) -> Option<i64> {
    let mut c = Cursor { s: text.as_bytes(), i: 0 };
    let mut f = Fields { year: 1970, month: 1, day: 1, ..Fields::default() };
    for token in tokens {
        match *token {
            Token::Year(n) => f.year = c.digits(if n == 2 { 2 } else { 1 }, if n == 2 { 2 } else { 9 })?,
            Token::Month(n) => f.month = c.digits(n.min(2), 2)?,
            Token::Day(n) => f.day = c.digits(n.min(2), 2)?,
            Token::Hour(n) => f.hour = c.digits(n.min(2), 2)?,
            Token::Minute(n) => f.minute = c.digits(n.min(2), 2)?,
            Token::Second(n) => f.second = c.digits(n.min(2), 2)?,
            Token::Fraction(_) => f.millis = c.fraction()?,
            Token::Offset => f.offset_minutes = c.offset()?,
            Token::Literal(l) => {
                let mut buf = [0u8; 4];
                for b in l.encode_utf8(&mut buf).bytes() {
                    if !c.eat(b) {
                        return None;
                    }
                }
            }
        }
    }
    if !c.done() {
        return None;
    }
    f.to_millis()
}

fn split(millis: i64) -> (i64, i64, i64, i64, i64, i64, i64) {
    let days = millis.div_euclid(86_400_000);
    let rest = millis.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    (y, m, d, rest / 3_600_000, rest / 60_000 % 60, rest / 1000 % 60, rest % 1000)
}

/// `2020-01-02T03:04:05.678Z`, as Elasticsearch prints the default format.
pub fn format_iso(millis: i64) -> String {
    let (y, m, d, h, mi, s, ms) = split(millis);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z")
}

fn format_with(tokens: &[Token], millis: i64) -> String {
    let (y, m, d, h, mi, s, ms) = split(millis);
    let mut out = String::new();
    for token in tokens {
        let written = match *token {
            Token::Year(2) => write!(out, "{:02}", y % 100),
            Token::Year(n) => write!(out, "{y:0n$}"),
            Token::Month(n) => write!(out, "{m:0n$}"),
            Token::Day(n) => write!(out, "{d:0n$}"),
            Token::Hour(n) => write!(out, "{h:0n$}"),
            Token::Minute(n) => write!(out, "{mi:0n$}"),
            Token::Second(n) => write!(out, "{s:0n$}"),
            // The first `n` digits of the milliseconds.
            Token::Fraction(n) => write!(out, "{:.n$}", format!("{ms:03}"), n = n.min(3)),
            Token::Offset => write!(out, "Z"),
            Token::Literal(c) => write!(out, "{c}"),
        };
        written.expect("writing to a String cannot fail");
    }
    out
}

/// Whether dynamic mapping should map a string as a date (Elasticsearch's
/// `dynamic_date_formats`: ISO dates and `yyyy/MM/dd` forms).
pub fn looks_like_date(text: &str) -> bool {
    let b = text.as_bytes();
    let iso_shape = b.len() >= 10 && b[4] == b'-' && b[7] == b'-';
    let slash_shape = b.len() >= 10 && b[4] == b'/' && b[7] == b'/';
    (iso_shape && parse_iso(text).is_some())
        || (slash_shape
            && parse_with(&parse_pattern("yyyy/MM/dd").expect("valid"), &text[..10]).is_some()
            && b.len() == 10)
}

fn now_millis() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Reads a date in a query: date math (`now-1d/d`, `2020-01-01||+1M/M`)
/// or a value in `format`. `round_up` rounds `/unit` to the unit's last
/// millisecond, as Elasticsearch does for `lte` and `gt`.
pub fn parse_math(text: &str, format: &DateFormat, round_up: bool) -> Result<i64, EsError> {
    let failed = || EsError::parse(format!("failed to parse date field [{text}] with format [{}]", format.as_str()));
    let (anchor, math) = if let Some(rest) = text.strip_prefix("now") {
        (now_millis(), rest)
    } else if let Some(i) = text.find("||") {
        (format.parse_value(&text[..i]).ok_or_else(failed)?, &text[i + 2..])
    } else {
        return format.parse_value(text).ok_or_else(failed);
    };
    let mut t = anchor;
    let mut rest = math.as_bytes();
    while let Some((&op, tail)) = rest.split_first() {
        let digits = tail.iter().take_while(|b| b.is_ascii_digit()).count();
        let n: i64 = if digits == 0 {
            1
        } else {
            std::str::from_utf8(&tail[..digits]).ok().and_then(|s| s.parse().ok()).ok_or_else(failed)?
        };
        let unit = *tail.get(digits).ok_or_else(failed)?;
        rest = &tail[digits + 1..];
        t = match op {
            b'+' => add(t, n, unit).ok_or_else(failed)?,
            b'-' => add(t, -n, unit).ok_or_else(failed)?,
            b'/' if digits == 0 => {
                let floor = round_down(t, unit).ok_or_else(failed)?;
                if round_up { add(floor, 1, unit).ok_or_else(failed)? - 1 } else { floor }
            }
            _ => return Err(failed()),
        };
    }
    Ok(t)
}

fn add(t: i64, n: i64, unit: u8) -> Option<i64> {
    let (y, m, d, ..) = split(t);
    let time_of_day = t.rem_euclid(86_400_000);
    let months = match unit {
        b'y' => 12 * n,
        b'M' => n,
        _ => 0,
    };
    if months != 0 {
        let total = y * 12 + (m - 1) + months;
        let (ny, nm) = (total.div_euclid(12), total.rem_euclid(12) + 1);
        let nd = d.min(days_in_month(ny, nm));
        return Some(days_from_civil(ny, nm, nd) * 86_400_000 + time_of_day);
    }
    let step = match unit {
        b'w' => 7 * 86_400_000,
        b'd' => 86_400_000,
        b'h' | b'H' => 3_600_000,
        b'm' => 60_000,
        b's' => 1000,
        _ => return None,
    };
    t.checked_add(n.checked_mul(step)?)
}

fn round_down(t: i64, unit: u8) -> Option<i64> {
    let (y, m, d, ..) = split(t);
    Some(match unit {
        b'y' => days_from_civil(y, 1, 1) * 86_400_000,
        b'M' => days_from_civil(y, m, 1) * 86_400_000,
        b'w' => {
            let days = days_from_civil(y, m, d);
            (days - (days + 3).rem_euclid(7)) * 86_400_000
        }
        b'd' => t - t.rem_euclid(86_400_000),
        b'h' | b'H' => t - t.rem_euclid(3_600_000),
        b'm' => t - t.rem_euclid(60_000),
        b's' => t - t.rem_euclid(1000),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_format_reads_iso_and_epoch_millis() {
        let f = DateFormat::default();
        assert_eq!(f.parse_value("1970-01-01"), Some(0));
        assert_eq!(f.parse_value("2020-02-29T12:00:00Z"), Some(1_582_977_600_000));
        assert_eq!(f.parse_value("2020-02-29T13:00:00+01:00"), Some(1_582_977_600_000));
        assert_eq!(f.parse_value("2015"), Some(1_420_070_400_000));
        assert_eq!(f.parse_value("1420070400001"), Some(1_420_070_400_001));
        assert_eq!(f.parse_value("2019-02-29"), None);
        assert_eq!(f.parse_value("not a date"), None);
        assert_eq!(f.format(1_582_977_600_123), "2020-02-29T12:00:00.123Z");
    }

    #[test]
    fn patterns_read_and_print() {
        let f = DateFormat::parse(Some("yyyy/MM/dd HH:mm:ss||yyyy")).unwrap();
        assert_eq!(f.parse_value("2020/02/29 12:00:00"), Some(1_582_977_600_000));
        assert_eq!(f.parse_value("2020"), Some(1_577_836_800_000));
        assert_eq!(f.format(1_582_977_600_000), "2020/02/29 12:00:00");
        assert_eq!(
            DateFormat::parse(Some("dd-MM-yyyy'T'")).unwrap().parse_value("01-02-2020T"),
            Some(1_580_515_200_000)
        );
        assert!(DateFormat::parse(Some("yyyy-qq")).is_err());
    }

    #[test]
    fn civil_days_round_trip() {
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn date_math() {
        let f = DateFormat::default();
        let base = "2020-01-31T10:20:30Z||";
        let at = |math: &str, up| format_iso(parse_math(&format!("{base}{math}"), &f, up).unwrap());
        assert_eq!(at("+1M", false), "2020-02-29T10:20:30.000Z");
        assert_eq!(at("-1d/d", false), "2020-01-30T00:00:00.000Z");
        assert_eq!(at("/M", true), "2020-01-31T23:59:59.999Z");
        assert_eq!(at("/y", false), "2020-01-01T00:00:00.000Z");
        assert_eq!(at("/w", false), "2020-01-27T00:00:00.000Z");
        assert!(parse_math("now-1d/d", &f, false).unwrap() <= now_millis());
        assert!(parse_math("tomorrow", &f, false).is_err());
    }

    #[test]
    fn date_detection() {
        assert!(looks_like_date("2020-01-01"));
        assert!(looks_like_date("2020-01-01T10:00:00Z"));
        assert!(looks_like_date("2020/01/01"));
        assert!(!looks_like_date("2020"));
        assert!(!looks_like_date("hello world"));
    }
}
