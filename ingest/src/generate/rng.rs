//! The generator's random numbers: a fixed algorithm, so a seed means the
//! same dataset in every release.

/// xoshiro256** seeded through SplitMix64: tiny, fast, and its output is fixed forever, which
/// determinism across releases needs and `rand` does not promise.
#[derive(Debug, Clone)]
pub(super) struct Rng([u64; 4]);

pub(super) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    /// Separate streams per `stream`, so the names thread never shares state with titles.
    pub(super) fn new(seed: u64, stream: u64) -> Self {
        let mut x = seed ^ mix(stream.wrapping_add(0x5EED));
        Rng([(); 4].map(|()| {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            mix(x)
        }))
    }
    pub(super) fn next(&mut self) -> u64 {
        let s = &mut self.0;
        let out = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        out
    }
    /// Uniform in `0..n` (multiply-shift; the bias is far below anything visible).
    pub(super) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }
    pub(super) fn pct(&mut self, p: u64) -> bool {
        self.below(100) < p
    }
    /// Uniform in `[0, 1)`.
    pub(super) fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub(super) fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
    pub(super) fn weighted(&mut self, weights: &[u32]) -> usize {
        let mut x = self.below(u64::from(weights.iter().sum::<u32>())) as u32;
        for (i, &w) in weights.iter().enumerate() {
            if x < w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }
}
