//! NumPy's legacy `RandomState` (MT19937), bit-exact: seeding and the draws MNIST-1D makes.
//!
//! The MNIST-1D reference code seeds the global NumPy generator with
//! `np.random.seed(seed)` and then calls `np.random.rand()`,
//! `np.random.randn(n)`, `np.random.choice(n)` and `np.random.permutation(n)`.
//! Reproducing the Python dataset exactly therefore needs NumPy's *legacy*
//! stream, which differs from `rand`-crate generators and even from NumPy's
//! modern `Generator` API. Each method below names the NumPy C/Cython function
//! it mirrors (NumPy 2.x sources: `random/src/mt19937/mt19937.{c,h}`,
//! `random/_mt19937.pyx`, `random/mtrand.pyx`,
//! `random/src/legacy/legacy-distributions.c`,
//! `random/src/distributions/distributions.c`,
//! `random/_bounded_integers.pyx.in`). The legacy stream is frozen by NumPy's
//! compatibility policy, so these outputs are stable across NumPy versions.

/// Number of 32-bit words in the MT19937 state (`RK_STATE_LEN`).
const N: usize = 624;
/// MT19937 middle word offset (`_MT19937_M`).
const M: usize = 397;
const MATRIX_A: u32 = 0x9908_b0df;
const UPPER_MASK: u32 = 0x8000_0000;
const LOWER_MASK: u32 = 0x7fff_ffff;

/// NumPy's legacy `RandomState`: an MT19937 bit generator plus the cached
/// second normal deviate of the polar Box–Muller method.
///
/// `NumpyRng::new(seed)` followed by a sequence of calls yields exactly the
/// values of `np.random.seed(seed)` followed by the same sequence of
/// `np.random.*` calls.
#[derive(Clone)]
pub struct NumpyRng {
    key: [u32; N],
    pos: usize,
    /// Cached deviate from the last `legacy_gauss` call (`has_gauss`/`gauss`).
    gauss: Option<f64>,
}

impl std::fmt::Debug for NumpyRng {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NumpyRng")
            .field("pos", &self.pos)
            .field("gauss", &self.gauss)
            .finish_non_exhaustive()
    }
}

impl NumpyRng {
    /// Equivalent of `np.random.seed(seed)` / `np.random.RandomState(seed)`
    /// for an integer seed.
    ///
    /// NumPy's `_legacy_seeding` sends an integer in `[0, 2**32 - 1]` to
    /// `mt19937_seed`, which fills the state with Knuth's linear recurrence
    /// (the reference `init_genrand`, *not* `init_by_array`) and sets the
    /// position to the end of the state so the first draw regenerates it.
    /// `RandomState.seed` also clears the cached Gaussian.
    pub fn new(seed: u32) -> Self {
        let mut key = [0u32; N];
        let mut s = seed;
        for (pos, k) in key.iter_mut().enumerate() {
            *k = s;
            s = 1_812_433_253u32
                .wrapping_mul(s ^ (s >> 30))
                .wrapping_add(pos as u32 + 1);
        }
        Self {
            key,
            pos: N,
            gauss: None,
        }
    }

    /// Regenerates the whole state block (`mt19937_gen`).
    fn generate_block(&mut self) {
        let twist = |upper: u32, lower: u32, far: u32| {
            let y = (upper & UPPER_MASK) | (lower & LOWER_MASK);
            far ^ (y >> 1) ^ (0u32.wrapping_sub(y & 1) & MATRIX_A)
        };
        for i in 0..N - M {
            self.key[i] = twist(self.key[i], self.key[i + 1], self.key[i + M]);
        }
        for i in N - M..N - 1 {
            self.key[i] = twist(self.key[i], self.key[i + 1], self.key[i + M - N]);
        }
        self.key[N - 1] = twist(self.key[N - 1], self.key[0], self.key[M - 1]);
        self.pos = 0;
    }

    /// One tempered 32-bit output (`mt19937_next32`).
    pub fn next_u32(&mut self) -> u32 {
        if self.pos == N {
            self.generate_block();
        }
        let mut y = self.key[self.pos];
        self.pos += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^= y >> 18;
        y
    }

    /// One 64-bit output: two 32-bit draws, high word first (`mt19937_next64`).
    pub fn next_u64(&mut self) -> u64 {
        let hi = u64::from(self.next_u32());
        let lo = u64::from(self.next_u32());
        (hi << 32) | lo
    }

    /// `np.random.rand()` / `random_sample()`: a uniform double in `[0, 1)`
    /// with 53 random bits, built from two draws as
    /// `((a >> 5) * 2^26 + (b >> 6)) / 2^53` (`mt19937_next_double`).
    pub fn rand(&mut self) -> f64 {
        let a = f64::from(self.next_u32() >> 5);
        let b = f64::from(self.next_u32() >> 6);
        (a * 67_108_864.0 + b) / 9_007_199_254_740_992.0
    }

    /// `np.random.randn()`: a standard normal deviate by the Marsaglia polar
    /// method (`legacy_gauss`).
    ///
    /// Each accepted pair of uniforms yields two deviates: `f * x2` is
    /// returned and `f * x1` is cached for the next call, exactly as NumPy
    /// does. `ln` and `sqrt` are the platform libm's, like NumPy's C code.
    pub fn randn(&mut self) -> f64 {
        if let Some(g) = self.gauss.take() {
            return g;
        }
        loop {
            let x1 = 2.0 * self.rand() - 1.0;
            let x2 = 2.0 * self.rand() - 1.0;
            let r2 = x1 * x1 + x2 * x2;
            if r2 >= 1.0 || r2 == 0.0 {
                continue;
            }
            let f = (-2.0 * r2.ln() / r2).sqrt();
            self.gauss = Some(f * x1);
            return f * x2;
        }
    }

    /// `np.random.randn(n)`: `n` deviates in order (the array fill calls
    /// `legacy_gauss` once per element, sharing the cache with scalar calls).
    pub fn randn_vec(&mut self, n: usize) -> Vec<f64> {
        (0..n).map(|_| self.randn()).collect()
    }

    /// `np.random.randint(low, high)` for the default `int` (int64) dtype:
    /// a value in `[low, high)`.
    ///
    /// Legacy `RandomState` always uses masked rejection sampling
    /// (`_rand_int64` with `use_masked=True` → `random_bounded_uint64_fill`):
    /// with `rng = high - 1 - low`, draw 32-bit words (or 64-bit words when
    /// `rng` does not fit in 32 bits), AND them with the smallest all-ones
    /// mask covering `rng`, and reject values above `rng`.
    ///
    /// # Panics
    /// If `low >= high` (NumPy raises `ValueError`).
    pub fn randint(&mut self, low: i64, high: i64) -> i64 {
        assert!(low < high, "randint: low >= high ({low} >= {high})");
        let rng = (high - 1).wrapping_sub(low) as u64;
        let off = low as u64;
        if rng == 0 {
            return low;
        }
        let mask = gen_mask(rng);
        let val = if rng <= 0xffff_ffff {
            if rng == 0xffff_ffff {
                u64::from(self.next_u32())
            } else {
                loop {
                    let v = u64::from(self.next_u32()) & mask;
                    if v <= rng {
                        break v;
                    }
                }
            }
        } else if rng == u64::MAX {
            self.next_u64()
        } else {
            loop {
                let v = self.next_u64() & mask;
                if v <= rng {
                    break v;
                }
            }
        };
        off.wrapping_add(val) as i64
    }

    /// `np.random.choice(n)` for an integer population without `p`: legacy
    /// `choice` calls `randint(0, n)`, so this is one masked-rejection draw
    /// in `[0, n)`.
    ///
    /// # Panics
    /// If `n == 0` (NumPy raises `ValueError`).
    pub fn choice(&mut self, n: usize) -> usize {
        assert!(n > 0, "choice: population must be positive");
        self.randint(0, n as i64) as usize
    }

    /// `random_interval(max)`: a value in `[0, max]` by masked rejection,
    /// on 32-bit draws when `max` fits in 32 bits, else on 64-bit draws.
    /// This is the bounded draw used by `shuffle`.
    pub fn interval(&mut self, max: u64) -> u64 {
        if max == 0 {
            return 0;
        }
        let mask = gen_mask(max);
        if max <= 0xffff_ffff {
            loop {
                let v = u64::from(self.next_u32()) & mask;
                if v <= max {
                    return v;
                }
            }
        } else {
            loop {
                let v = self.next_u64() & mask;
                if v <= max {
                    return v;
                }
            }
        }
    }

    /// `np.random.shuffle(x)` for a 1-D array: Fisher–Yates from the end,
    /// `for i in reversed(range(1, n)): j = random_interval(i); swap(i, j)`.
    pub fn shuffle<T>(&mut self, xs: &mut [T]) {
        for i in (1..xs.len()).rev() {
            let j = self.interval(i as u64) as usize;
            xs.swap(i, j);
        }
    }

    /// `np.random.permutation(n)`: `arange(n)` shuffled by [`Self::shuffle`].
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut v: Vec<usize> = (0..n).collect();
        self.shuffle(&mut v);
        v
    }
}

/// Smallest all-ones bit mask `>= max` (`gen_mask`).
fn gen_mask(max: u64) -> u64 {
    let mut mask = max;
    mask |= mask >> 1;
    mask |= mask >> 2;
    mask |= mask >> 4;
    mask |= mask >> 8;
    mask |= mask >> 16;
    mask |= mask >> 32;
    mask
}

#[cfg(test)]
mod tests {
    //! Expected values were printed by NumPy 2.4.6 (legacy `np.random`).
    use super::*;

    #[test]
    fn rand_matches_numpy() {
        let mut r = NumpyRng::new(42);
        let got: Vec<f64> = (0..3).map(|_| r.rand()).collect();
        assert_eq!(
            got,
            [0.3745401188473625, 0.9507143064099162, 0.7319939418114051]
        );
        let mut r = NumpyRng::new(u32::MAX);
        assert_eq!(r.rand(), 0.0976320289940138);
        assert_eq!(r.rand(), 0.9123828453026218);
    }

    #[test]
    fn rand_across_state_regeneration() {
        // 700 doubles use 1400 words: crosses two block regenerations, and
        // element 311/312 straddle the first one (words 622..626).
        let mut r = NumpyRng::new(5);
        let x: Vec<f64> = (0..700).map(|_| r.rand()).collect();
        assert_eq!(x[311], 0.9985157672628341);
        assert_eq!(x[312], 0.03834193016002463);
        assert_eq!(x[699], 0.7464423502866897);
    }

    #[test]
    fn randn_matches_numpy() {
        let mut r = NumpyRng::new(42);
        let got = r.randn_vec(5);
        assert_eq!(
            got,
            [
                0.4967141530112327,
                -0.13826430117118466,
                0.6476885381006925,
                1.5230298564080254,
                -0.23415337472333597
            ]
        );
        assert_eq!(NumpyRng::new(0).randn(), 1.764052345967664);
    }

    #[test]
    fn choice_and_permutation_match_numpy() {
        let mut r = NumpyRng::new(42);
        let got: Vec<usize> = (0..10).map(|_| r.choice(48)).collect();
        assert_eq!(got, [38, 28, 14, 42, 7, 20, 38, 18, 22, 10]);
        assert_eq!(
            NumpyRng::new(42).permutation(10),
            [8, 1, 5, 0, 7, 2, 9, 4, 3, 6]
        );
        assert_eq!(
            NumpyRng::new(5).permutation(1000)[..10],
            [544, 515, 193, 11, 279, 653, 643, 763, 198, 721]
        );
    }

    #[test]
    fn interleaved_calls_share_the_gauss_cache() {
        // seed(123); randn(); rand(); randn(); choice(5); permutation(7); randn()
        let mut r = NumpyRng::new(123);
        assert_eq!(r.randn(), -1.0856306033005612);
        assert_eq!(r.rand(), 0.2268514535642031);
        assert_eq!(r.randn(), 0.9973454465835858);
        assert_eq!(r.choice(5), 1);
        assert_eq!(r.permutation(7), [0, 4, 5, 1, 6, 2, 3]);
        assert_eq!(r.randn(), -0.20420096463889467);
    }

    #[test]
    fn randint_wide_and_negative_ranges() {
        // seed(7); randint(0, 2**40); randint(-5, 5); randint(0, 10**12, size=3)
        let mut r = NumpyRng::new(7);
        assert_eq!(r.randint(0, 1 << 40), 752_595_690_692);
        assert_eq!(r.randint(-5, 5), 4);
        let got: Vec<i64> = (0..3).map(|_| r.randint(0, 1_000_000_000_000)).collect();
        assert_eq!(got, [909_345_358_743, 446_582_064_476, 796_881_771_918]);
    }

    #[test]
    fn degenerate_ranges_consume_nothing() {
        let mut a = NumpyRng::new(1);
        let mut b = NumpyRng::new(1);
        assert_eq!(a.randint(3, 4), 3);
        assert_eq!(a.interval(0), 0);
        assert_eq!(a.permutation(1), [0]);
        assert_eq!(a.rand(), b.rand());
    }
}
