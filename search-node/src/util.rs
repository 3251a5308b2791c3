//! Small helpers shared by every layer of the node: JSON values in
//! messages, flags, name suggestions, `*` patterns, unique ids, and
//! crash-safe file replacement.

use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

/// A JSON value as Elasticsearch quotes it in messages: strings without
/// their quotes, everything else as JSON.
pub fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A request flag: present without a value, or `true`.
pub fn is_true(value: Option<&str>) -> bool {
    value.is_some_and(|v| v.is_empty() || v == "true")
}

/// The known name closest to a misspelled one, as Elasticsearch suggests
/// it (`did you mean [doc]?`): within two edits.
pub fn did_you_mean<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    fn distance(a: &str, b: &str) -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut row: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut prev = row[0];
            row[0] = i + 1;
            for (j, cb) in b.iter().enumerate() {
                let cur = row[j + 1];
                row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
                prev = cur;
            }
        }
        row[b.len()]
    }
    known.iter().map(|k| (distance(name, k), *k)).filter(|(d, _)| *d <= 2).min_by_key(|(d, _)| *d).map(|(_, k)| k)
}

/// Writes a file so that a crash leaves the old or the new content.
pub fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    fs::create_dir_all(dir)?;
    let tmp = dir.join(format!("{name}.tmp"));
    let mut file = fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    fs::rename(&tmp, dir.join(name))?;
    fs::File::open(dir)?.sync_all()
}

/// A new unique id: 22 URL-safe base64 characters, like Elasticsearch's
/// index uuids, from the time, the process and a counter (unique on one
/// node), mixed so that ids made together do not look alike.
pub fn new_uuid() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let n = u128::from(COUNTER.fetch_add(1, Ordering::Relaxed));
    let mut x = nanos ^ (u128::from(std::process::id()) << 96) ^ (n << 64) ^ n;
    // Odd multipliers and xor-shifts are bijective: distinct inputs stay distinct.
    for _ in 0..2 {
        x ^= x >> 67;
        x = x.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835);
    }
    (0..22).map(|i| ALPHABET[((x >> (i * 6)) & 63) as usize] as char).collect()
}

/// `*` as the only wildcard, as Elasticsearch's index patterns use it.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || !name[first.len()..].ends_with(last) || name.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_strips_quotes_only_from_strings() {
        assert_eq!(plain(&Value::from("a")), "a");
        assert_eq!(plain(&serde_json::json!([1, "a"])), "[1,\"a\"]");
        assert!(is_true(Some("")) && is_true(Some("true")) && !is_true(Some("false")) && !is_true(None));
        assert_eq!(did_you_mean("dac", &["doc", "upsert"]), Some("doc"));
        assert_eq!(did_you_mean("zzzzzz", &["doc"]), None);
    }
}
