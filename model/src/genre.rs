//! Genre normalisation: one vocabulary for every input.
//!
//! IMDb's TSV files use 28 genres (`Sci-Fi`, `Film-Noir`, ...); JSON exports
//! use their own (`Science Fiction`, `Romantic Comedy`, `Thriller/Suspense`).
//! Every genre becomes a lower-case slug of IMDb's vocabulary, because the
//! slug names a per-genre Elasticsearch index and a facet value. A value that
//! maps to nothing known is kept as its own slug (it is the user's data), but
//! [`is_known_genre`] tells the indexer not to open an index for it.

/// IMDb's genres as slugs, sorted.
pub const KNOWN_GENRES: [&str; 28] = [
    "action",
    "adult",
    "adventure",
    "animation",
    "biography",
    "comedy",
    "crime",
    "documentary",
    "drama",
    "family",
    "fantasy",
    "film-noir",
    "game-show",
    "history",
    "horror",
    "music",
    "musical",
    "mystery",
    "news",
    "reality-tv",
    "romance",
    "sci-fi",
    "short",
    "sport",
    "talk-show",
    "thriller",
    "war",
    "western",
];

/// Longest slug kept for a genre outside the vocabulary.
const MAX_SLUG_LEN: usize = 40;

/// True for a slug of IMDb's vocabulary.
pub fn is_known_genre(slug: &str) -> bool {
    KNOWN_GENRES.binary_search(&slug).is_ok()
}

/// Lower-cases `raw`, turns every run of characters other than ASCII letters
/// and digits into one `-`, and trims dashes.
fn slug(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.trim().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out.truncate(MAX_SLUG_LEN);
    out
}

/// The slugs one raw genre stands for: usually one, two for compounds like
/// "Romantic Comedy", none for an empty value or IMDb's `\N`.
pub fn normalise_genre(raw: &str) -> Vec<String> {
    let s = slug(raw);
    let mapped: &[&str] = match s.as_str() {
        "" | "n" => &[],
        "sci-fi" | "science-fiction" | "scifi" | "sf" => &["sci-fi"],
        "romantic-comedy" | "romcom" | "rom-com" => &["romance", "comedy"],
        "black-comedy" | "dark-comedy" => &["comedy"],
        "thriller-suspense" | "suspense" => &["thriller"],
        "concert-performance" | "concert" => &["music"],
        "film-noir" | "noir" => &["film-noir"],
        "biopic" | "biographical" => &["biography"],
        "sports" => &["sport"],
        "animated" => &["animation"],
        "reality" | "reality-tv" => &["reality-tv"],
        "game-show" | "gameshow" => &["game-show"],
        "talk-show" | "talkshow" => &["talk-show"],
        "historical" => &["history"],
        _ => return vec![s],
    };
    mapped.iter().map(|g| (*g).to_owned()).collect()
}

/// Most genres kept per title: IMDb gives at most three; the bound keeps a
/// hostile list from costing quadratic time or bloating documents.
pub const MAX_GENRES: usize = 16;

/// Normalises a list of raw genres, keeping first-seen order (the first is
/// the primary genre), dropping repeats, and keeping at most [`MAX_GENRES`].
pub fn normalise_genres<'a>(raw: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for genre in raw.into_iter().flat_map(normalise_genre) {
        if out.len() == MAX_GENRES {
            break;
        }
        if !out.contains(&genre) {
            out.push(genre);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabulary_is_sorted_for_binary_search() {
        assert!(KNOWN_GENRES.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn imdb_genres_map_to_themselves() {
        for (raw, slug) in
            [("Sci-Fi", "sci-fi"), ("Film-Noir", "film-noir"), ("Reality-TV", "reality-tv"), ("Drama", "drama")]
        {
            assert_eq!(normalise_genre(raw), vec![slug.to_owned()]);
            assert!(is_known_genre(slug));
        }
    }

    #[test]
    fn other_vocabularies_map_into_imdb_genres() {
        assert_eq!(normalise_genres(["Romantic Comedy", "Comedy"]), vec!["romance", "comedy"]);
        assert_eq!(normalise_genres(["Thriller/Suspense"]), vec!["thriller"]);
        assert_eq!(normalise_genres(["Science Fiction"]), vec!["sci-fi"]);
        assert_eq!(normalise_genres(["Concert/Performance"]), vec!["music"]);
        assert_eq!(normalise_genres(["\\N", "", "  "]), Vec::<String>::new());
    }

    #[test]
    fn unknown_genres_are_kept_as_bounded_slugs() {
        assert_eq!(normalise_genre("  Space   Opera!! "), vec!["space-opera"]);
        assert!(!is_known_genre("space-opera"));
        assert_eq!(normalise_genre(&"x".repeat(500))[0].len(), MAX_SLUG_LEN);
        let many: Vec<String> = (0..100_000).map(|i| format!("g{i}")).collect();
        assert_eq!(normalise_genres(many.iter().map(String::as_str)).len(), MAX_GENRES);
    }
}
