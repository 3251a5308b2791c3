//! The assertions' comparisons: equality, regexes, numbers, truth, length.
//!
//! Contract, as the upstream (Java) runner behaves:
//! - `match` with an expected string that, trimmed, is `/.../` is a regex
//!   search in the actual string, in verbose mode (whitespace and `#`
//!   comments ignored, Java's `Pattern.COMMENTS`). As in Java, `$` also
//!   matches before one final line break. Otherwise values must be equal:
//!   numbers numerically (1 == 1.0, at any depth), strings exactly (`"1"` is
//!   not `1`), objects by the same keys, arrays element by element.
//! - `gt`/`gte`/`lt`/`lte` compare numbers numerically (integers exactly,
//!   otherwise as floats) and strings by their text; other pairs fail.
//! - A value is "true" unless it is undefined, null, `false`, `0`, `""`, or
//!   the strings `"false"` (any case) and `"0"`.
//! - `catch: /regex/` searches the error body as written, without verbose
//!   mode (see the runner).

use std::cmp::Ordering;

use regex::RegexBuilder;
use serde_json::{Number, Value};

use super::stash::short;

/// The pattern inside `/.../` when `expected`, trimmed, is written so.
pub fn as_regex(expected: &str) -> Option<&str> {
    let trimmed = expected.trim();
    (trimmed.len() > 2 && trimmed.starts_with('/') && trimmed.ends_with('/')).then(|| &trimmed[1..trimmed.len() - 1])
}

/// Whether `pattern` is found in `text`; `verbose` ignores whitespace and
/// comments in the pattern.
pub fn regex_find(pattern: &str, text: &str, verbose: bool) -> Result<bool, String> {
    let regex = RegexBuilder::new(pattern)
        .ignore_whitespace(verbose)
        .size_limit(1 << 24)
        .build()
        .map_err(|e| format!("the runner cannot use the regex /{pattern}/: {e}"))?;
    if regex.is_match(text) {
        return Ok(true);
    }
    // Java's `$` (without MULTILINE) also matches before a final line break.
    let trimmed = text.strip_suffix('\n').map(|t| t.strip_suffix('\r').unwrap_or(t));
    Ok(trimmed.is_some_and(|t| regex.is_match(t)))
}

/// Compares two JSON numbers: integers exactly, anything else as floats.
pub fn compare_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    let int = |n: &Number| n.as_i64().map(i128::from).or_else(|| n.as_u64().map(i128::from));
    match (int(a), int(b)) {
        (Some(x), Some(y)) => Some(x.cmp(&y)),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

/// Deep equality where numbers compare numerically.
pub fn values_equal(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::Number(a), Value::Number(b)) => compare_numbers(a, b) == Some(Ordering::Equal),
        (Value::Array(a), Value::Array(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| values_equal(x, y)),
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len() && b.iter().all(|(k, v)| a.get(k).is_some_and(|x| values_equal(x, v)))
        }
        (a, b) => a == b,
    }
}

/// `match`: `Ok(())` or why not.
pub fn check_match(actual: Option<&Value>, expected: &Value) -> Result<(), String> {
    if let Value::String(text) = expected
        && let Some(pattern) = as_regex(text)
    {
        return match actual {
            Some(Value::String(s)) if regex_find(pattern, s, true)? => Ok(()),
            Some(Value::String(s)) => Err(format!("{} does not match /{}/", quoted(s), verbose_display(pattern))),
            other => Err(format!("expected a string matching /{}/, got {}", verbose_display(pattern), describe(other))),
        };
    }
    match (actual, expected) {
        (None, Value::Null) => Ok(()),
        (Some(a), e) if values_equal(a, e) => Ok(()),
        (a, e) => Err(format!("expected {}, got {}", short(e), describe(a))),
    }
}

/// A verbose-mode pattern on one line: its whitespace means nothing.
fn verbose_display(pattern: &str) -> String {
    pattern.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `gt`/`gte`/`lt`/`lte`: how `actual` compares with `expected`.
pub fn compare(actual: Option<&Value>, expected: &Value) -> Result<Ordering, String> {
    match (actual, expected) {
        (Some(Value::Number(a)), Value::Number(b)) => {
            compare_numbers(a, b).ok_or_else(|| format!("{a} and {b} do not compare"))
        }
        (Some(Value::String(a)), Value::String(b)) => Ok(a.as_str().cmp(b.as_str())),
        (a, e) => Err(format!("cannot compare {} with {}", describe(a), short(e))),
    }
}

/// The truth of a value (see the module docs).
pub fn is_truthy(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null | Value::Bool(false)) => false,
        Some(Value::Number(n)) => n.as_f64() != Some(0.0),
        Some(Value::String(s)) => !(s.is_empty() || s == "0" || s.eq_ignore_ascii_case("false")),
        Some(_) => true,
    }
}

/// `length`: the number of characters, elements or keys.
pub fn check_length(actual: Option<&Value>, expected: &Value) -> Result<(), String> {
    let want = match expected {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or_else(|| format!("the expected length {} is not a count", short(expected)))?;
    let got = match actual {
        Some(Value::String(s)) => s.chars().count(),
        Some(Value::Array(a)) => a.len(),
        Some(Value::Object(o)) => o.len(),
        other => return Err(format!("expected something of length {want}, got {}", describe(other))),
    };
    if got as u64 == want { Ok(()) } else { Err(format!("expected length {want}, got {got}: {}", describe(actual))) }
}

/// `contains`: the array has an element equal to `expected`, or, for an
/// object, one that has each of its keys with equal values.
pub fn check_contains(actual: Option<&Value>, expected: &Value) -> Result<(), String> {
    let Some(Value::Array(items)) = actual else {
        return Err(format!("expected an array, got {}", describe(actual)));
    };
    let found = items.iter().any(|item| match (item, expected) {
        (Value::Object(have), Value::Object(want)) => {
            want.iter().all(|(k, v)| have.get(k).is_some_and(|x| values_equal(x, v)))
        }
        (item, want) => values_equal(item, want),
    });
    if found {
        Ok(())
    } else {
        Err(format!("{} does not contain {}", short(&Value::Array(items.clone())), short(expected)))
    }
}

/// A value for a message: `undefined` for a missing one.
pub fn describe(value: Option<&Value>) -> String {
    match value {
        None => "undefined".to_owned(),
        Some(Value::String(s)) => quoted(s),
        Some(v) => short(v),
    }
}

fn quoted(s: &str) -> String {
    short(&Value::String(s.to_owned()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn numbers_compare_across_int_and_float() {
        let n = |v: Value| v.as_number().unwrap().clone();
        assert_eq!(compare_numbers(&n(json!(1)), &n(json!(1.0))), Some(Ordering::Equal));
        assert_eq!(compare_numbers(&n(json!(2)), &n(json!(1.5))), Some(Ordering::Greater));
        assert_eq!(compare_numbers(&n(json!(u64::MAX)), &n(json!(-1))), Some(Ordering::Greater));
        // Integers beyond f64's precision still compare exactly.
        assert_eq!(
            compare_numbers(&n(json!(72057594037927937_i64)), &n(json!(72057594037927936_i64))),
            Some(Ordering::Greater)
        );
        assert!(values_equal(&json!({"a": [1, {"b": 2.0}]}), &json!({"a": [1.0, {"b": 2}]})));
        assert!(!values_equal(&json!({"a": 1, "b": 2}), &json!({"a": 1})));
        assert!(!values_equal(&json!("1"), &json!(1)));
    }

    #[test]
    fn match_checks_values_null_and_undefined() {
        assert!(check_match(Some(&json!(5)), &json!(5.0)).is_ok());
        assert!(check_match(None, &Value::Null).is_ok());
        let err = check_match(Some(&json!(0)), &json!(5)).unwrap_err();
        assert_eq!(err, "expected 5, got 0");
        assert_eq!(check_match(None, &json!("x")).unwrap_err(), "expected \"x\", got undefined");
        assert!(check_match(Some(&json!({"foo": "bar"})), &json!({"foo": "bar"})).is_ok());
    }

    #[test]
    fn regexes_are_verbose_and_searched() {
        // The shape of the cat tests: a `|` block, spaces and line breaks
        // for layout only.
        let expected = json!("/^(green  \\s+\n   open   \\s+\n   index1 \\s+ \\d+ \\s*\n)\n$/\n");
        assert!(check_match(Some(&json!("green open index1 3\n")), &expected).is_ok());
        assert!(check_match(Some(&json!("yellow open index1 3\n")), &expected).is_err());
        assert!(regex_find("b+", "abbbc", false).unwrap());
        assert!(regex_find(r"^(foo \n?)$", "foo\n", true).unwrap());
        // Comments are ignored in verbose mode.
        assert!(regex_find("^ a # the letter a\n b $", "ab", true).unwrap());
        // Escaped punctuation as Java writes it.
        assert!(regex_find(r"aliases \[test\_alias\*\] missing", "aliases [test_alias*] missing", false).unwrap());
        assert!(regex_find(r"Malformed action\/metadata", "Malformed action/metadata", false).unwrap());
        // Java's `$` matches before a final line break; an empty cat body.
        assert!(regex_find("^$", "", true).unwrap());
        assert!(regex_find("^$", "\n", true).unwrap());
        assert!(!regex_find("^$", "x\n", true).unwrap());
        let err = check_match(Some(&json!(3)), &json!("/\\d+/")).unwrap_err();
        assert!(err.contains("expected a string"), "{err}");
        assert!(regex_find("(?<=a)b", "ab", false).unwrap_err().contains("cannot use the regex"));
    }

    #[test]
    fn regex_syntax_needs_surrounding_slashes_and_content() {
        assert_eq!(as_regex("  /a b/ \n"), Some("a b"));
        assert_eq!(as_regex("//"), None);
        assert_eq!(as_regex("/a"), None);
    }

    #[test]
    fn comparisons_and_truth() {
        assert_eq!(compare(Some(&json!(3)), &json!(2.5)).unwrap(), Ordering::Greater);
        assert_eq!(compare(Some(&json!(0)), &json!(0)).unwrap(), Ordering::Equal);
        assert!(compare(None, &json!(1)).is_err());
        assert!(compare(Some(&json!("3")), &json!(1)).is_err());
        for falsy in [
            None,
            Some(json!(null)),
            Some(json!(false)),
            Some(json!(0)),
            Some(json!(0.0)),
            Some(json!("")),
            Some(json!("FALSE")),
            Some(json!("0")),
        ] {
            assert!(!is_truthy(falsy.as_ref()), "{falsy:?}");
        }
        for truthy in [json!(true), json!(1), json!("x"), json!({}), json!([]), json!("true")] {
            assert!(is_truthy(Some(&truthy)), "{truthy:?}");
        }
    }

    #[test]
    fn length_and_contains() {
        assert!(check_length(Some(&json!([1, 2])), &json!(2)).is_ok());
        assert!(check_length(Some(&json!({"a": 1})), &json!(1)).is_ok());
        assert!(check_length(Some(&json!("héllo")), &json!(5)).is_ok());
        assert!(check_length(Some(&json!([1])), &json!(2)).unwrap_err().contains("expected length 2, got 1"));
        assert!(check_length(None, &json!(0)).is_err());
        let plugins = json!([{"name": "a", "v": 1}, {"name": "b"}]);
        assert!(check_contains(Some(&plugins), &json!({"name": "b"})).is_ok());
        assert!(check_contains(Some(&plugins), &json!({"name": "c"})).is_err());
        assert!(check_contains(Some(&json!([1, 2])), &json!(2.0)).is_ok());
    }
}
