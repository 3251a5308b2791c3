//! Tests of the generator: determinism, format, order and consistency of
//! the seven files.

use super::*;
use flate2::read::GzDecoder;
use std::collections::HashMap;
use std::io::Read;

const ALL: [Spec; 7] = [BASICS, AKAS, CREW, EPISODES, PRINCIPALS, RATINGS, NAMES];

fn run(dir: &Path, titles: u64, seed: u64) -> io::Result<GenerateSummary> {
    generate(&GenerateSettings { titles, seed, out: dir.to_path_buf() })
}

/// `n` zero-padded to `width` digits: the digits are `.0[.1..]`.
fn padded(n: u64, width: usize) -> ([u8; 20], usize) {
    let (mut digits, mut rest, mut i) = ([b'0'; 20], n, 20);
    while rest > 0 {
        i -= 1;
        digits[i] = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    (digits, i.min(20 - width))
}

#[test]
fn text_order_is_sorted_text() {
    // Small widths against a real sort of the strings, crossing one and two extra digits.
    for (width, max) in [(3, 1), (3, 999), (3, 1000), (3, 1500), (3, 10_009), (3, 21_234), (1, 5_000), (2, 77)] {
        let mut want: Vec<String> = (1..=max).map(|n| format!("{n:0width$}", width = width as usize)).collect();
        want.sort_unstable();
        let got: Vec<String> = text_order(width, max).map(|n| format!("{n:0width$}", width = width as usize)).collect();
        assert_eq!(got, want, "width {width}, max {max}");
    }
    assert_eq!(text_order(3, 0).count(), 0);
    assert!(text_order(7, 9_999_999).take(1_000_100).eq(1..=1_000_100));
    // IMDb's width just past ten million: each id strictly above the last as text (so no repeats),
    // all in 1..=max and max of them, so every id exactly once.
    let max = 10_000_150;
    // Two ids below 10^7 are both 7 characters, and equal-length digit strings compare as numbers;
    // only pairs involving a longer id need formatting (which would dominate the test's time).
    let above = |a: u64, b: u64| {
        let ((a, i), (b, j)) = (padded(a, 7), padded(b, 7));
        a[i..] > b[j..]
    };
    let (mut prev, mut count) = (0, 0);
    for n in text_order(7, max) {
        assert!((1..=max).contains(&n), "{n}");
        assert!(if n.max(prev) < 10_000_000 { n > prev } else { above(n, prev) }, "{n} after {prev}");
        (prev, count) = (n, count + 1);
    }
    assert_eq!(count, max);
    let window: Vec<u64> = text_order(7, max).skip_while(|&n| n != 999_999).take(15).collect();
    assert_eq!(window[..3], [999_999, 1_000_000, 10_000_000]);
    assert_eq!(window[11..], [10_000_009, 1_000_001, 10_000_010, 10_000_011]);
    let tail: Vec<u64> = text_order(7, max).skip_while(|&n| n != 1_000_015).take(3).collect();
    assert_eq!(tail, [1_000_015, 10_000_150, 1_000_016]);
}

fn id(field: &str) -> u64 {
    field[2..].parse().unwrap_or_else(|_| panic!("bad id {field:?}"))
}

fn ids(field: &str) -> Vec<u64> {
    if field == "\\N" { Vec::new() } else { field.split(',').map(id).collect() }
}

/// Data rows of one file, after checking its header, shape, id padding and sort order (as text).
fn rows(dir: &Path, width: usize, (name, header): Spec) -> Vec<Vec<String>> {
    let mut text = String::new();
    GzDecoder::new(File::open(dir.join(name)).unwrap()).read_to_string(&mut text).unwrap();
    assert!(text.ends_with('\n') && !text.contains('\r'), "{name}");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(header), "{name}");
    let fields = header.split('\t').count();
    let by_ordering = header.split('\t').nth(1) == Some("ordering");
    let (mut prev, mut out) = ((String::new(), 0), Vec::new());
    for line in lines {
        let f: Vec<String> = line.split('\t').map(str::to_owned).collect();
        assert_eq!(f.len(), fields, "{name}: {line:?}");
        assert!(f.iter().all(|x| !x.is_empty()), "{name}: {line:?}");
        assert_eq!(f[0], format!("{}{:0width$}", &f[0][..2], id(&f[0])), "{name}: {line:?}");
        // String's Ord is byte-wise: IMDb's order.
        let key = (f[0].clone(), if by_ordering { f[1].parse().unwrap() } else { 0u64 });
        assert!(key > prev, "{name} unsorted at {line:?}");
        let next = key.1 == 1 || (key.0 == prev.0 && key.1 == prev.1 + 1);
        assert!(!by_ordering || next, "{name} ordering gap at {line:?}");
        prev = key;
        out.push(f);
    }
    out
}

#[test]
fn deterministic_per_seed() {
    let [a, b, c] = [(), (), ()].map(|()| tempfile::tempdir().unwrap());
    run(a.path(), 300, 1).unwrap();
    run(b.path(), 300, 1).unwrap();
    run(c.path(), 300, 2).unwrap();
    let read = |d: &tempfile::TempDir, n: &str| fs::read(d.path().join(n)).unwrap();
    for (name, _) in ALL {
        assert_eq!(read(&a, name), read(&b, name), "{name}");
        assert_ne!(read(&a, name), read(&c, name), "{name}");
    }
}

#[test]
fn rejects_zero_titles_and_sizes_names() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(run(dir.path(), 0, 1).unwrap_err().kind(), io::ErrorKind::InvalidInput);
    assert_eq!([names_for(1), names_for(100), names_for(1000)], [10, 125, 1250]);
    let summary = run(&dir.path().join("new/sub"), 10, 3).unwrap();
    assert_eq!(summary.files[0], (BASICS.0.to_owned(), 10));
    assert_eq!(summary.files[6], (NAMES.0.to_owned(), names_for(10)));
}

#[test]
fn files_are_consistent() {
    check_consistent(7, 2000, 42);
}

/// Narrow ids, so 2,000 titles reach the ids past the padding that interleave in text order (at
/// width 7 that takes ten million): `tt100` < `tt1000` < ... < `tt1009` < `tt101`.
#[test]
fn files_are_consistent_past_the_padding() {
    check_consistent(3, 2000, 7);
    check_consistent(2, 2000, 42);
}

fn check_consistent(width: u32, n: u64, seed: u64) {
    let dir = tempfile::tempdir().unwrap();
    let config = GenerateSettings { titles: n, seed, out: dir.path().to_path_buf() };
    let summary = generate_padded(&config, width).unwrap();
    let all = ALL.map(|spec| rows(dir.path(), width as usize, spec));
    let counts = ALL.iter().zip(&all).map(|(s, r)| (s.0.to_owned(), r.len() as u64));
    assert_eq!(summary.files, counts.collect::<Vec<_>>());
    let size = |s: &Spec| fs::metadata(dir.path().join(s.0)).unwrap().len();
    assert_eq!(summary.bytes, ALL.iter().map(size).sum::<u64>());

    let [basics, akas, crew, episodes, principals, ratings, names] = &all;
    assert!(basics.iter().map(|r| id(&r[0])).eq(text_order(width, n)));
    assert!(names.iter().map(|r| id(&r[0])).eq(text_order(width, names_for(n))));
    // Ids are dense (checked just above), so existence is a range check.
    let position: HashMap<u64, (usize, &str)> =
        basics.iter().enumerate().map(|(i, r)| (id(&r[0]), (i, r[1].as_str()))).collect();
    let (is_title, is_person) = (|t: &u64| (1..=n).contains(t), |p: &u64| (1..=names_for(n)).contains(p));
    for row in basics {
        assert!(TYPES.contains(&row[1].as_str()) && ["0", "1"].contains(&row[4].as_str()), "{row:?}");
        let g: Vec<&str> = row[8].split(',').collect();
        assert!(row[8] == "\\N" || (g.is_sorted() && g.iter().all(|g| GENRES.contains(g))), "{row:?}");
    }
    for rows in [akas, crew, episodes, principals, ratings] {
        assert!(rows.iter().all(|r| is_title(&id(&r[0]))));
    }
    assert!(crew.iter().all(|r| [ids(&r[1]), ids(&r[2])].concat().iter().all(is_person)));
    assert!(names.iter().all(|r| ids(&r[5]).iter().all(is_title)));
    for row in principals {
        let c = &row[5];
        assert!(is_person(&id(&row[2])), "{row:?}");
        assert!(c == "\\N" || (c.starts_with("[\"") && c.ends_with("\"]")), "{c}");
    }
    for row in episodes {
        let ((at, ty), (parent_at, parent_ty)) = (position[&id(&row[0])], position[&id(&row[1])]);
        assert!(parent_at < at && ty == "tvEpisode", "{row:?}");
        assert!(["tvSeries", "tvMiniSeries"].contains(&parent_ty), "{row:?}");
    }
    let all_episodes = basics.iter().filter(|r| r[1] == "tvEpisode").count();
    assert_eq!((episodes.len(), crew.len() as u64), (all_episodes, n));

    // Loose distribution checks: the shape, not exact numbers.
    let per_title = |rows: &Vec<Vec<String>>| rows.len() as f64 / n as f64;
    assert!((0.45..0.65).contains(&per_title(episodes)));
    assert!((0.65..0.85).contains(&per_title(ratings)));
    assert!((4.5..7.5).contains(&per_title(principals)));
    assert!((2.5..3.5).contains(&per_title(akas)));
}
