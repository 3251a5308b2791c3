//! Index names: Elasticsearch's validity rules, and resolving the index
//! expressions a request may use (`a,b`, `imdb-titles-*`, `_all`, `-x`).

use crate::error::EsError;
use crate::util::glob_match;

const FORBIDDEN: [char; 10] = ['\\', '/', '*', '?', '"', '<', '>', '|', ' ', ','];

/// Checks a name for a new index the way Elasticsearch does.
pub fn validate(name: &str) -> Result<(), EsError> {
    let bad = |why: &str| Err(EsError::invalid_index_name(name, why));
    if name.is_empty() {
        return bad("must not be empty");
    }
    if name.chars().any(char::is_uppercase) {
        return bad("must be lowercase");
    }
    if name.contains(FORBIDDEN) || name.contains('#') || name.contains(':') {
        return bad("must not contain the following characters [ , \", *, \\, <, |, ,, >, /, ?, #, :]");
    }
    if name.starts_with(['_', '-', '+']) {
        return bad("must not start with '_', '-', or '+'");
    }
    if name == "." || name == ".." {
        return bad("must not be '.' or '..'");
    }
    if name.len() > 255 {
        return bad(&format!("index name is too long, ({} > 255)", name.len()));
    }
    Ok(())
}

/// Resolves an index expression against the existing `names` (and the
/// aliases, as `(alias, index)` pairs). Concrete names that match nothing
/// fail with `index_not_found_exception` unless `ignore_unavailable`;
/// wildcards that match nothing resolve to nothing. The result is sorted
/// and without repeats.
pub fn resolve(
    expression: &str,
    names: &[&str],
    aliases: &[(&str, &str)],
    ignore_unavailable: bool,
) -> Result<Vec<String>, EsError> {
    let mut out: Vec<String> = Vec::new();
    for part in expression.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if let Some(excluded) = part.strip_prefix('-')
            && !out.is_empty()
        {
            out.retain(|n| !glob_match(excluded, n));
            continue;
        }
        let matching: Vec<&str> = if part == "_all" || part == "*" {
            names.to_vec()
        } else if part.contains('*') {
            let direct = names.iter().copied().filter(|n| glob_match(part, n));
            let via_alias = aliases.iter().filter(|(a, _)| glob_match(part, a)).map(|(_, i)| *i);
            direct.chain(via_alias).collect()
        } else if names.contains(&part) {
            vec![part]
        } else {
            let via_alias: Vec<&str> = aliases.iter().filter(|(a, _)| *a == part).map(|(_, i)| *i).collect();
            if via_alias.is_empty() && !ignore_unavailable {
                return Err(EsError::index_not_found(part));
            }
            via_alias
        };
        out.extend(matching.into_iter().map(str::to_owned));
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elasticsearchs_name_rules() {
        assert!(validate("imdb-titles-drama").is_ok());
        for bad in ["", "Upper", "a b", "a*", "_x", "-x", "+x", ".", "..", "a:b", "a#b", &"x".repeat(256)] {
            let e = validate(bad).unwrap_err();
            assert_eq!(e.es_type(), "invalid_index_name_exception", "{bad}");
        }
    }

    #[test]
    fn globs() {
        assert!(glob_match("imdb-*", "imdb-titles"));
        assert!(glob_match("*-titles-*", "imdb-titles-drama"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("imdb-*-x", "imdb-x"));
        assert!(!glob_match("a*b", "ab-c"));
    }

    #[test]
    fn expressions_resolve_like_elasticsearch() {
        let names = ["a1", "a2", "b1"];
        let aliases = [("bl", "b1")];
        let r = |e: &str| resolve(e, &names, &aliases, false);
        assert_eq!(r("a*").unwrap(), ["a1", "a2"]);
        assert_eq!(r("_all").unwrap(), ["a1", "a2", "b1"]);
        assert_eq!(r("*,-a2").unwrap(), ["a1", "b1"]);
        assert_eq!(r("bl,a1").unwrap(), ["a1", "b1"]);
        assert_eq!(r("b*").unwrap(), ["b1"]);
        assert_eq!(r("x*").unwrap(), Vec::<String>::new());
        assert_eq!(r("a1,missing").unwrap_err().es_type(), "index_not_found_exception");
        assert_eq!(resolve("missing", &names, &aliases, true).unwrap(), Vec::<String>::new());
    }
}
