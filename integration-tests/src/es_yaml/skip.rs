//! When a section's `skip` step skips it: version ranges and runner
//! features.
//!
//! Contract: a section is skipped when the server's version lies in one of
//! the `version` ranges (`min - max`, either bound open, bounds included;
//! several ranges comma separated; `all` is every version), or when it needs
//! a runner feature outside [`SUPPORTED_FEATURES`]. The ranges are compared
//! literally with the version the server reports at `GET /`. The corpus mixes
//! Elasticsearch and OpenSearch numbering, and for a server reporting 8.x the
//! literal rule gives what the files mean: `" - 6.99.99"` (needs 7.0+),
//! `" - 2.11.99"` (OpenSearch 2.12+) and `" - 7.99.99"` do not skip, while
//! `"7.2.0 - "` (behaviour before 7.2) and `"all"` do.

use std::fmt;

use super::model::Skip;

/// The runner features sections may ask for that this runner has (the
/// names are the upstream runner's). `warnings` and `allowed_warnings` are
/// accepted because warning headers are not checked at all; `node_selector`
/// because there is one node; `default_shards` because the node runs with its
/// defaults.
pub const SUPPORTED_FEATURES: &[&str] = &[
    "allowed_warnings",
    "allowed_warnings_regex",
    "arbitrary_key",
    "catch_unauthorized",
    "contains",
    "default_shards",
    "embedded_stash_key",
    "headers",
    "node_selector",
    "stash_in_key",
    "stash_in_path",
    "warnings",
    "warnings_regex",
];

/// A version `major.minor.patch`; suffixes (`.Beta1`, `-SNAPSHOT`) are
/// ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u32, pub u32, pub u32);

impl Version {
    /// Parses `8.11.0`, `7.2`, `1.0.0.Beta1`, `8.11.0-SNAPSHOT`.
    pub fn parse(text: &str) -> Option<Version> {
        let mut numbers = text.trim().split(['.', '-']).map(|part| part.parse::<u32>().ok());
        let major = numbers.next()??;
        let minor = numbers.next().flatten().unwrap_or(0);
        let patch = numbers.next().flatten().unwrap_or(0);
        Some(Version(major, minor, patch))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

/// Whether `version` lies in one of the comma-separated ranges of `spec`.
pub fn in_ranges(spec: &str, version: Version) -> Result<bool, String> {
    for range in spec.split(',') {
        if range.trim() == "all" {
            return Ok(true);
        }
        // Padding makes `" - 6.99.99"` and `"7.2.0 - "` split like
        // `"1.0 - 2.0"`; a range without spaces splits at its one dash.
        let padded = format!(" {range} ");
        let (min, max) = padded
            .split_once(" - ")
            .or_else(|| range.split_once('-').filter(|(_, max)| !max.contains('-')))
            .ok_or_else(|| format!("version range {:?} is not `min - max`", range.trim()))?;
        let (min, max) = (bound(min)?, bound(max)?);
        if min.is_none_or(|min| min <= version) && max.is_none_or(|max| version <= max) {
            return Ok(true);
        }
    }
    Ok(false)
}

fn bound(text: &str) -> Result<Option<Version>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    Version::parse(text).map(Some).ok_or_else(|| format!("{text:?} is not a version"))
}

/// Why a section with this `skip` step is skipped on a server of
/// `version`, or `None` when it runs.
pub fn skip_reason(skip: &Skip, version: Version) -> Result<Option<String>, String> {
    if let Some(feature) = skip.features.iter().find(|f| !SUPPORTED_FEATURES.contains(&f.as_str())) {
        return Ok(Some(format!("feature {feature} not supported by runner")));
    }
    if let Some(spec) = &skip.version
        && in_ranges(spec, version)?
    {
        let why = skip.reason.as_deref().unwrap_or("no reason given");
        return Ok(Some(format!("version {version} in skip range {:?}: {why}", spec.trim())));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ES_8_11: Version = Version(8, 11, 0);

    fn skips(range: &str) -> bool {
        in_ranges(range, ES_8_11).unwrap()
    }

    #[test]
    fn versions_parse_with_suffixes() {
        assert_eq!(Version::parse("8.11.0"), Some(ES_8_11));
        assert_eq!(Version::parse("7.2"), Some(Version(7, 2, 0)));
        assert_eq!(Version::parse("1.0.0.Beta1"), Some(Version(1, 0, 0)));
        assert_eq!(Version::parse("8.11.0-SNAPSHOT"), Some(ES_8_11));
        assert_eq!(Version::parse("x"), None);
        assert!(Version(7, 99, 99) < ES_8_11 && Version(8, 2, 0) < ES_8_11);
    }

    #[test]
    fn ranges_below_7_and_opensearch_feature_ranges_do_not_skip_8_11() {
        for range in [" - 6.99.99", " - 6.9.99", " - 2.11.99", " - 2.15.99", " - 3.0.99", " - 7.99.99", " - 7.5.99"] {
            assert!(!skips(range), "{range:?}");
        }
    }

    #[test]
    fn all_and_ranges_containing_8_11_skip() {
        for range in
            ["all", "7.2.0 - ", "2.0.0 - ", "8.0.0 - 8.11.0", "8.11.0 - 8.11.0", " - ", "1.0.0 - 2.0.0, 8.0.0 - 9.0.0"]
        {
            assert!(skips(range), "{range:?}");
        }
        assert!(!skips("8.11.1 - "));
        assert!(!skips("1.0.0 - 2.0.0, 9.0.0 - "));
    }

    #[test]
    fn a_malformed_range_is_an_error() {
        assert!(in_ranges("soon", ES_8_11).is_err());
        assert!(in_ranges("x - 2.0.0", ES_8_11).is_err());
    }

    #[test]
    fn unsupported_features_skip_and_supported_ones_run() {
        let skip = |features: &[&str], version: Option<&str>| Skip {
            version: version.map(str::to_owned),
            reason: Some("because".into()),
            features: features.iter().map(|f| f.to_string()).collect(),
        };
        assert_eq!(skip_reason(&skip(&["headers", "allowed_warnings"], None), ES_8_11).unwrap(), None);
        assert_eq!(skip_reason(&skip(&["allowed_warnings"], Some(" - 7.5.99")), ES_8_11).unwrap(), None);
        assert_eq!(
            skip_reason(&skip(&["headers", "yaml"], None), ES_8_11).unwrap().unwrap(),
            "feature yaml not supported by runner"
        );
        let reason = skip_reason(&skip(&[], Some("7.2.0 - ")), ES_8_11).unwrap().unwrap();
        assert_eq!(reason, "version 8.11.0 in skip range \"7.2.0 -\": because");
    }
}
