//! When a section's `skip` step skips it: version ranges and runner
//! features.
//!
//! Contract: a section is skipped when the server's version lies in one of
//! the `version` ranges (`min - max`, either bound open, bounds included;
//! several ranges comma separated; `all` is every version), or when it needs
//! a runner feature outside [`SUPPORTED_FEATURES`]. How a bound compares
//! with the server's version depends on the distribution `GET /` reports:
//! - Elasticsearch (no `version.distribution`, as the search node): bounds
//!   are compared literally. The corpus mixes Elasticsearch and OpenSearch
//!   numbering, and for a server reporting 8.x the literal rule gives what
//!   the files mean: `" - 6.99.99"` (needs 7.0+), `" - 2.11.99"` (OpenSearch
//!   2.12+) and `" - 7.99.99"` do not skip, while `"7.2.0 - "` (behaviour
//!   before 7.2) and `"all"` do.
//! - OpenSearch (`version.distribution: "opensearch"`): as OpenSearch 1.x and
//!   2.x's own YAML framework does (`SkipSection.parseVersionRanges` reads
//!   each bound with `Version.fromString`, which makes a version of major 4
//!   or more a legacy Elasticsearch version, and versions compare by an id
//!   where every legacy id is below every OpenSearch one). So on OpenSearch
//!   2.19, `"7.2.0 - "` skips (2.19 comes after 7.2.0), `" - 7.99.99"` and
//!   `" - 6.99.99"` run, and `" - 2.11.99"` runs while `" - 2.99.99"` skips.

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

/// Whose numbering the server's version follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distribution {
    /// Elasticsearch (or a server answering as it, like the search node).
    Elasticsearch,
    /// OpenSearch 1.x and later (`version.distribution: "opensearch"`).
    OpenSearch,
}

/// The version of the server under test, as `GET /` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerVersion {
    /// Whose numbering.
    pub distribution: Distribution,
    /// `version.number`.
    pub number: Version,
}

impl ServerVersion {
    /// An Elasticsearch server's version.
    pub fn elasticsearch(number: Version) -> ServerVersion {
        ServerVersion { distribution: Distribution::Elasticsearch, number }
    }

    /// An OpenSearch server's version.
    pub fn opensearch(number: Version) -> ServerVersion {
        ServerVersion { distribution: Distribution::OpenSearch, number }
    }

    /// From `GET /`'s `version.number` and `version.distribution`.
    pub fn from_info(number: &str, distribution: Option<&str>) -> Option<ServerVersion> {
        let number = Version::parse(number)?;
        Some(match distribution {
            Some(d) if d.eq_ignore_ascii_case("opensearch") => ServerVersion::opensearch(number),
            _ => ServerVersion::elasticsearch(number),
        })
    }

    /// How a skip bound compares with this server's version.
    fn cmp_bound(&self, bound: Version) -> std::cmp::Ordering {
        match self.distribution {
            // OpenSearch's `Version.fromString` reads a major above 3 as a
            // legacy Elasticsearch version, whose ids sort below every
            // OpenSearch version's.
            Distribution::OpenSearch if bound.0 > 3 => std::cmp::Ordering::Greater,
            Distribution::Elasticsearch | Distribution::OpenSearch => self.number.cmp(&bound),
        }
    }
}

impl fmt::Display for ServerVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.distribution {
            Distribution::Elasticsearch => write!(f, "{}", self.number),
            Distribution::OpenSearch => write!(f, "OpenSearch {}", self.number),
        }
    }
}

/// Whether `version` lies in one of the comma-separated ranges of `spec`.
pub fn in_ranges(spec: &str, version: ServerVersion) -> Result<bool, String> {
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
        if min.is_none_or(|min| version.cmp_bound(min).is_ge()) && max.is_none_or(|max| version.cmp_bound(max).is_le())
        {
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
pub fn skip_reason(skip: &Skip, version: ServerVersion) -> Result<Option<String>, String> {
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

    const ES_8_11: ServerVersion =
        ServerVersion { distribution: Distribution::Elasticsearch, number: Version(8, 11, 0) };
    const OS_2_19: ServerVersion = ServerVersion { distribution: Distribution::OpenSearch, number: Version(2, 19, 6) };

    fn skips(range: &str) -> bool {
        in_ranges(range, ES_8_11).unwrap()
    }

    #[test]
    fn versions_parse_with_suffixes() {
        assert_eq!(Version::parse("8.11.0"), Some(ES_8_11.number));
        assert_eq!(Version::parse("7.2"), Some(Version(7, 2, 0)));
        assert_eq!(Version::parse("1.0.0.Beta1"), Some(Version(1, 0, 0)));
        assert_eq!(Version::parse("8.11.0-SNAPSHOT"), Some(ES_8_11.number));
        assert_eq!(Version::parse("x"), None);
        assert!(Version(7, 99, 99) < ES_8_11.number && Version(8, 2, 0) < ES_8_11.number);
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
            features: features.iter().map(std::string::ToString::to_string).collect(),
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

    #[test]
    fn opensearch_versions_come_after_every_legacy_elasticsearch_version() {
        let skips_os = |range: &str| in_ranges(range, OS_2_19).unwrap();
        // Legacy bounds (major above 3): OpenSearch 2.19 is after all of them.
        for range in ["7.2.0 - ", "7.10.0 - ", "6.0.0 - ", "all", " - ", "7.0.0 - 2.99.99"] {
            assert!(skips_os(range), "{range:?}");
        }
        for range in [" - 7.1.99", " - 7.99.99", " - 6.99.99", " - 6.9.99", " - 6.3.99", " - 7.5.99", "7.0.0 - 7.10.2"]
        {
            assert!(!skips_os(range), "{range:?}");
        }
        // OpenSearch bounds compare as OpenSearch versions.
        for range in [" - 2.99.99", " - 3.0.99", "2.0.0 - ", "2.19.6 - 2.19.6", "1.0.0 - "] {
            assert!(skips_os(range), "{range:?}");
        }
        for range in [" - 2.11.99", " - 2.15.99", " - 2.7.99", " - 1.99.99", " - 1.4.99", "2.19.7 - ", "3.0.0 - "] {
            assert!(!skips_os(range), "{range:?}");
        }
        // OpenSearch 1.3 too is after 7.10 (its fork point).
        let os_1_3 = ServerVersion::opensearch(Version(1, 3, 18));
        assert!(in_ranges("7.10.0 - ", os_1_3).unwrap());
        assert!(!in_ranges(" - 7.10.2", os_1_3).unwrap());
        assert!(!in_ranges("2.0.0 - ", os_1_3).unwrap());
    }

    #[test]
    fn the_same_ranges_stay_literal_for_elasticsearch() {
        // What the literal rule gives a server reporting 8.11 (the search
        // node), for the ranges the OpenSearch rule reads differently.
        assert!(!skips(" - 7.1.99") && skips("7.10.0 - ") && !skips(" - 2.99.99") && !skips(" - 3.0.99"));
        assert!(skips("2.0.0 - ") && !skips("7.0.0 - 7.10.2"));
    }

    #[test]
    fn the_distribution_comes_from_get_root() {
        assert_eq!(ServerVersion::from_info("2.19.6", Some("opensearch")), Some(OS_2_19));
        assert_eq!(ServerVersion::from_info("8.11.0", None), Some(ES_8_11));
        assert_eq!(ServerVersion::from_info("8.11.0", Some("elasticsearch")), Some(ES_8_11));
        assert_eq!(ServerVersion::from_info("", Some("opensearch")), None);
        let skip = Skip { version: Some("7.2.0 - ".into()), reason: Some("pre 7.2.0".into()), features: Vec::new() };
        assert_eq!(
            skip_reason(&skip, OS_2_19).unwrap().unwrap(),
            "version OpenSearch 2.19.6 in skip range \"7.2.0 -\": pre 7.2.0"
        );
    }
}
