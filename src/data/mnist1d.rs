//! MNIST-1D dataset generator: a bit-compatible port of greydanus/mnist1d's `make_dataset`.
//!
//! MNIST-1D (Greydanus, "Scaling down deep learning", 2020) turns ten
//! hand-made 12-point "digit" templates into 40-point 1-D signals through a
//! fixed chain of random transforms: pad, dilate, scale, translate,
//! correlated noise, i.i.d. noise, shear, subsample. The dataset is then
//! shuffled, standardized and split into train and test.
//!
//! Reproduction strategy: every random number comes from [`NumpyRng`], a port
//! of NumPy's legacy global generator, drawn in the same order as the Python
//! code (`mnist1d/data.py`, `mnist1d/transform.py`). Every floating-point
//! step is done in f64 in the same operation order as the NumPy/SciPy
//! routine it replaces (`np.linspace`, `np.interp` behind
//! `scipy.interpolate.interp1d(kind='linear')`, NumPy's pairwise summation
//! in `mean`/`std`, `scipy.ndimage.gaussian_filter`), so the output matches
//! the Python package to the last bit except for one documented place: the
//! Gaussian kernel of the correlated noise (see `gaussian_kernel`). The f32
//! dataset is the f64 one rounded at the very end, as
//! `xs.astype(np.float32)` would do.

use super::numpy_rng::NumpyRng;

/// Number of digit classes (and templates).
pub const NUM_CLASSES: usize = 10;
/// Most examples one MNIST-1D task may generate: 1 M examples of 40 values are 160 MB of f32 (the
/// paper's dataset has 4 000 / 5 000); beyond that the generator's memory and time are the problem.
pub const MAX_NUM_SAMPLES: usize = 1_000_000;
/// Number of points in each digit template.
pub const TEMPLATE_POINTS: usize = 12;

/// Constant added to the template before padding (`transform(..., eps=1e-8)`).
///
/// The template starts and ends at exactly 0; adding `eps` makes every
/// template sample non-zero, so the later `mask = x != 0` test separates the
/// signal from the zero padding (which receives correlated noise instead).
const EPS: f64 = 1e-8;

/// Raw digit templates `d0..d9` from `get_templates()`, before whitening.
const RAW_TEMPLATES: [[f64; TEMPLATE_POINTS]; NUM_CLASSES] = [
    [5.0, 6.0, 6.5, 6.75, 7.0, 7.0, 7.0, 7.0, 6.75, 6.5, 6.0, 5.0],
    [5.0, 3.0, 3.0, 3.4, 3.8, 4.2, 4.6, 5.0, 5.4, 5.8, 5.0, 5.0],
    [5.0, 6.0, 6.5, 6.5, 6.0, 5.25, 4.75, 4.0, 3.5, 3.5, 4.0, 5.0],
    [5.0, 6.0, 6.5, 6.5, 6.0, 5.0, 5.0, 6.0, 6.5, 6.5, 6.0, 5.0],
    [5.0, 4.4, 3.8, 3.2, 2.6, 2.6, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0],
    [5.0, 3.0, 3.0, 3.0, 3.0, 5.0, 6.0, 6.5, 6.5, 6.0, 4.5, 5.0],
    [5.0, 4.0, 3.5, 3.25, 3.0, 3.0, 3.0, 3.0, 3.25, 3.5, 4.0, 5.0],
    [5.0, 7.0, 7.0, 6.6, 6.2, 5.8, 5.4, 5.0, 4.6, 4.2, 5.0, 5.0],
    [5.0, 4.0, 3.5, 3.5, 4.0, 5.0, 5.0, 4.0, 3.5, 3.5, 4.0, 5.0],
    [5.0, 4.0, 3.5, 3.5, 4.0, 5.0, 5.0, 5.0, 5.0, 4.7, 4.3, 5.0],
];

/// Generator parameters, mirroring `get_dataset_args()` of the Python package
/// (the `url` entry, used only for downloading, is omitted).
#[derive(Debug, Clone, PartialEq)]
pub struct Mnist1dConfig {
    /// Requested number of examples. Each class gets `num_samples / 10`
    /// examples (integer division), so the dataset has
    /// `10 * (num_samples / 10)` rows. Default 5000.
    pub num_samples: usize,
    /// Fraction of the shuffled rows put in the training set; the split
    /// index is `floor(n * train_split)`. Default 0.8.
    pub train_split: f64,
    /// Added to `padding[1]` to give the length the padded template is
    /// dilated to (`template_len + padding[1]`, 72 by default). Note that the
    /// templates always have 12 points whatever this value. Default 12.
    pub template_len: usize,
    /// `[low, high]`: the number of zeros appended to the template is
    /// uniform in `low..=high`. Default `[36, 60]`.
    pub padding: [usize; 2],
    /// Amplitude scaling factor is uniform in
    /// `[1 - scale_coeff/2, 1 + scale_coeff/2)`. Default 0.4.
    pub scale_coeff: f64,
    /// Circular shift is uniform in `0..max_translation`. Default 48.
    pub max_translation: usize,
    /// Standard deviation of the white noise that is smoothed into the
    /// correlated background noise. Default 0.25.
    pub corr_noise_scale: f64,
    /// Standard deviation of the i.i.d. noise added everywhere. Default 0.02.
    pub iid_noise_scale: f64,
    /// Shear slope is uniform in `[-shear_scale/2, shear_scale/2)`.
    /// Default 0.75.
    pub shear_scale: f64,
    /// If true, one random permutation of the time axis is applied to every
    /// example (the "shuffled MNIST-1D" variant). Default false.
    pub shuffle_seq: bool,
    /// Length of each output signal. Default 40.
    pub final_seq_length: usize,
    /// Seed for `np.random.seed`; like NumPy, it must lie in
    /// `0..=2^32 - 1` (checked by [`Mnist1dConfig::validate`]). Default 42.
    pub seed: u64,
}

impl Default for Mnist1dConfig {
    /// The published defaults of `mnist1d.data.get_dataset_args()`.
    fn default() -> Self {
        Self {
            num_samples: 5000,
            train_split: 0.8,
            template_len: 12,
            padding: [36, 60],
            scale_coeff: 0.4,
            max_translation: 48,
            corr_noise_scale: 0.25,
            iid_noise_scale: 2e-2,
            shear_scale: 0.75,
            shuffle_seq: false,
            final_seq_length: 40,
            seed: 42,
        }
    }
}

impl Mnist1dConfig {
    /// Length the padded template is dilated to: `template_len + padding[1]`.
    pub fn dilated_len(&self) -> usize {
        self.template_len + self.padding[1]
    }

    /// Total number of generated rows: `10 * (num_samples / 10)`.
    pub fn total_samples(&self) -> usize {
        NUM_CLASSES * (self.num_samples / NUM_CLASSES)
    }

    /// Number of training rows: `floor(total_samples * train_split)`, as
    /// `int(len(ys) * args.train_split)` computes it.
    pub fn num_train(&self) -> usize {
        (self.total_samples() as f64 * self.train_split) as usize
    }

    /// Checks that the configuration describes a non-degenerate dataset.
    ///
    /// Rejects: fewer than 10 samples (some class would be empty);
    /// `train_split` outside the open interval (0, 1) or one that leaves the
    /// train or test set empty; `padding[0] > padding[1]`; a dilated length
    /// or `final_seq_length` below 2 (interpolation needs two points);
    /// `max_translation == 0` (`np.random.choice(0)` raises); negative or
    /// non-finite scales; a seed above `2^32 - 1` (NumPy raises).
    pub fn validate(&self) -> Result<(), String> {
        if !(NUM_CLASSES..=MAX_NUM_SAMPLES).contains(&self.num_samples) {
            return Err(format!(
                "num_samples must be in {NUM_CLASSES}..={MAX_NUM_SAMPLES} (at least one per class), \
                 got {}",
                self.num_samples
            ));
        }
        if !(self.train_split > 0.0 && self.train_split < 1.0) {
            return Err(format!(
                "train_split must lie in (0, 1), got {}",
                self.train_split
            ));
        }
        let (n, n_train) = (self.total_samples(), self.num_train());
        if n_train == 0 || n_train == n {
            return Err(format!(
                "train_split {} leaves an empty train or test set for {n} samples",
                self.train_split
            ));
        }
        if self.padding[0] > self.padding[1] {
            return Err(format!(
                "padding must be [low, high] with low <= high, got {:?}",
                self.padding
            ));
        }
        if self.dilated_len() < 2 {
            return Err(format!(
                "template_len + padding[1] must be at least 2, got {}",
                self.dilated_len()
            ));
        }
        if self.final_seq_length < 2 {
            return Err(format!(
                "final_seq_length must be at least 2, got {}",
                self.final_seq_length
            ));
        }
        if self.max_translation == 0 {
            return Err("max_translation must be at least 1".to_string());
        }
        if self.seed > u64::from(u32::MAX) {
            return Err(format!(
                "seed must be between 0 and 2**32 - 1, got {}",
                self.seed
            ));
        }
        for (name, v) in [
            ("scale_coeff", self.scale_coeff),
            ("corr_noise_scale", self.corr_noise_scale),
            ("iid_noise_scale", self.iid_noise_scale),
            ("shear_scale", self.shear_scale),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!("{name} must be finite and >= 0, got {v}"));
            }
        }
        Ok(())
    }
}

/// A generated MNIST-1D dataset in f32, rows in row-major order.
#[derive(Debug, Clone, PartialEq)]
pub struct Mnist1d {
    /// Training signals, `n_train x seq_len`, row-major.
    pub x_train: Vec<f32>,
    /// Training labels (0..=9), one per row of `x_train`.
    pub y_train: Vec<u8>,
    /// Test signals, `n_test x seq_len`, row-major.
    pub x_test: Vec<f32>,
    /// Test labels (0..=9), one per row of `x_test`.
    pub y_test: Vec<u8>,
    /// Length of each signal (`final_seq_length`).
    pub seq_len: usize,
}

/// The same dataset in the f64 precision it is computed in (what the Python
/// package returns), mainly for comparing against the reference.
#[derive(Debug, Clone, PartialEq)]
pub struct Mnist1dF64 {
    /// Training signals, `n_train x seq_len`, row-major.
    pub x_train: Vec<f64>,
    /// Training labels (0..=9).
    pub y_train: Vec<u8>,
    /// Test signals, `n_test x seq_len`, row-major.
    pub x_test: Vec<f64>,
    /// Test labels (0..=9).
    pub y_test: Vec<u8>,
    /// Length of each signal (`final_seq_length`).
    pub seq_len: usize,
}

impl Mnist1dF64 {
    /// Rounds the signals to f32 (round-to-nearest, like `astype(np.float32)`).
    pub fn to_f32(&self) -> Mnist1d {
        let cast = |v: &[f64]| v.iter().map(|&x| x as f32).collect();
        Mnist1d {
            x_train: cast(&self.x_train),
            y_train: self.y_train.clone(),
            x_test: cast(&self.x_test),
            y_test: self.y_test.clone(),
            seq_len: self.seq_len,
        }
    }
}

/// Generates the dataset in f32 (see [`generate_f64`]).
///
/// # Panics
/// If `config.validate()` fails.
pub fn generate(config: &Mnist1dConfig) -> Mnist1d {
    generate_f64(config).to_f32()
}

/// Generates the dataset exactly as `mnist1d.data.make_dataset(args)` does.
///
/// 1. Seed the legacy NumPy generator with `config.seed`.
/// 2. For each class 0..9 in order, produce `num_samples / 10` examples by
///    running the class template through `transform` (pad, dilate, scale,
///    translate, correlated + i.i.d. noise, shear, subsample).
/// 3. Shuffle the rows with `np.random.permutation(n)`; if `shuffle_seq`,
///    permute the time axis with `np.random.permutation(seq_len)` (one
///    permutation shared by all rows).
/// 4. Standardize with the global mean and (population) standard deviation
///    of all values: `(xs - xs.mean()) / xs.std()`, so the whole dataset has
///    mean 0 and std 1.
/// 5. The first `floor(n * train_split)` rows are the training set, the
///    rest the test set.
///
/// # Panics
/// If `config.validate()` fails.
pub fn generate_f64(config: &Mnist1dConfig) -> Mnist1dF64 {
    if let Err(e) = config.validate() {
        panic!("invalid MNIST-1D config: {e}");
    }
    let templates = templates();
    // `validate` guarantees the seed fits in 32 bits.
    let mut rng = NumpyRng::new(config.seed as u32);
    let per_class = config.num_samples / NUM_CLASSES;
    let n = NUM_CLASSES * per_class;
    let len = config.final_seq_length;

    let mut xs = Vec::with_capacity(n * len);
    let mut ys = Vec::with_capacity(n);
    for (label, template) in templates.iter().enumerate() {
        for _ in 0..per_class {
            xs.extend(transform(template, config, &mut rng));
            ys.push(label as u8);
        }
    }

    // Batch shuffle: row i of the result is row perm[i] of the stack.
    let perm = rng.permutation(n);
    let mut shuffled = Vec::with_capacity(n * len);
    for &p in &perm {
        shuffled.extend_from_slice(&xs[p * len..(p + 1) * len]);
    }
    let ys: Vec<u8> = perm.iter().map(|&p| ys[p]).collect();
    let mut xs = shuffled;

    if config.shuffle_seq {
        let seq_perm = rng.permutation(len);
        for row in xs.chunks_exact_mut(len) {
            let old = row.to_vec();
            for (dst, &src) in row.iter_mut().zip(&seq_perm) {
                *dst = old[src];
            }
        }
    }

    // Global standardization. NumPy computes `xs.mean()` and `xs.std()`
    // separately, but both start from the same pairwise sum, so one mean
    // serves both. NumPy sums in memory order: row-major normally, but
    // column-major after `xs[..., seq_shuffle]`, whose result is
    // Fortran-ordered; the sums must visit the values in that order.
    let memory_order: Vec<f64> = if config.shuffle_seq {
        (0..len)
            .flat_map(|c| xs.iter().skip(c).step_by(len).copied())
            .collect()
    } else {
        xs.clone()
    };
    let count = xs.len() as f64;
    let mean = pairwise_sum(&memory_order) / count;
    let sq: Vec<f64> = memory_order
        .iter()
        .map(|&v| {
            let d = v - mean;
            d * d
        })
        .collect();
    let std = (pairwise_sum(&sq) / count).sqrt();
    for v in &mut xs {
        *v = (*v - mean) / std;
    }

    let split = config.num_train();
    let x_test = xs.split_off(split * len);
    Mnist1dF64 {
        x_train: xs,
        y_train: ys[..split].to_vec(),
        x_test,
        y_test: ys[split..].to_vec(),
        seq_len: len,
    }
}

/// The ten whitened digit templates (`get_templates()["x"]`).
///
/// Each raw 12-point template is centred (`x -= x.mean(1)`), scaled to unit
/// population standard deviation (`x /= x.std(1)`), shifted so that it starts
/// (and, by construction of the raw shapes, ends) at exactly 0
/// (`x -= x[:, :1]`), and divided by 6 so the signal amplitude is small next
/// to the time axis `linspace(-5, 5, 12) / 6` used for plotting. The means and
/// variances use NumPy's pairwise summation so every value is bit-identical to
/// NumPy's.
pub fn templates() -> [[f64; TEMPLATE_POINTS]; NUM_CLASSES] {
    let mut out = RAW_TEMPLATES;
    let n = TEMPLATE_POINTS as f64;
    for row in &mut out {
        let mean = pairwise_sum(row) / n;
        for v in row.iter_mut() {
            *v -= mean;
        }
        // np.std recomputes the mean of the (already centred) row.
        let mean2 = pairwise_sum(row) / n;
        let sq: Vec<f64> = row
            .iter()
            .map(|&v| {
                let d = v - mean2;
                d * d
            })
            .collect();
        let std = (pairwise_sum(&sq) / n).sqrt();
        for v in row.iter_mut() {
            *v /= std;
        }
        let first = row[0];
        for v in row.iter_mut() {
            *v = (*v - first) / 6.0;
        }
    }
    out
}

/// Turns one template into one example (`transform(x, t, args)`), drawing
/// from `rng` in exactly the Python order: pad (1 uniform), scale
/// (1 uniform), translate (1 bounded integer), correlated noise (`L` normals),
/// i.i.d. noise (`L` normals), shear (1 uniform), where `L` is the dilated
/// length. Returns `final_seq_length` values.
fn transform(template: &[f64], config: &Mnist1dConfig, rng: &mut NumpyRng) -> Vec<f64> {
    let x: Vec<f64> = template.iter().map(|&v| v + EPS).collect();
    let x = pad(x, config.padding, rng);
    let len = config.dilated_len();
    let mut x = interpolate(&x, len);
    scale(&mut x, config.scale_coeff, rng);
    translate(&mut x, config.max_translation, rng);
    add_noise(&mut x, config.corr_noise_scale, config.iid_noise_scale, rng);
    shear(&mut x, config.shear_scale, rng);
    interpolate(&x, config.final_seq_length)
}

/// Pad: appends `p` zeros, with `p = low + floor(U * (high - low + 1))` and
/// `U = rand()`, i.e. `p` uniform in `low..=high`.
///
/// After dilation to a fixed length, a longer zero tail makes the digit
/// occupy a shorter stretch of the signal, so padding acts as a random
/// horizontal compression of the digit.
fn pad(mut x: Vec<f64>, padding: [usize; 2], rng: &mut NumpyRng) -> Vec<f64> {
    let [low, high] = padding;
    let p = low + (rng.rand() * (high - low + 1) as f64) as usize;
    x.resize(x.len() + p, 0.0);
    x
}

/// Scale: multiplies the signal by `1 + scale_coeff * (U - 0.5)`, `U = rand()`.
///
/// Random amplitude change; with the default 0.4 the factor lies in
/// [0.8, 1.2).
fn scale(x: &mut [f64], scale_coeff: f64, rng: &mut NumpyRng) {
    let factor = 1.0 + scale_coeff * (rng.rand() - 0.5);
    for v in x.iter_mut() {
        *v *= factor;
    }
}

/// Translate: circular shift right by `k = np.random.choice(max_translation)`.
///
/// Python builds `concatenate([x[-k:], x[:-k]])`. For `0 < k < len` this is
/// a right rotation by `k`; NumPy's slice clamping makes `k == 0` and
/// `k >= len` leave the signal unchanged, which is reproduced here. Random
/// position of the digit inside the window (the zero tail wraps around).
fn translate(x: &mut [f64], max_translation: usize, rng: &mut NumpyRng) {
    let k = rng.choice(max_translation);
    if k > 0 && k < x.len() {
        x.rotate_right(k);
    }
}

/// Noise: correlated background noise where the signal is exactly zero, then
/// i.i.d. noise everywhere.
///
/// * Correlated noise (`corr_noise_like`): `corr_scale * randn(L)` smoothed
///   by [`gaussian_filter`] (sigma 2). It replaces the samples that are still
///   exactly 0, i.e. the zero padding (every template sample is non-zero
///   thanks to [`EPS`]). Computed as `mask*x + (1-mask)*noise` with
///   `mask = (x != 0)` as 0/1 floats, the same arithmetic as NumPy. Gives the
///   empty part of the window smooth, low-frequency clutter.
/// * I.i.d. noise (`iid_noise_like`): adds `iid_scale * randn(L)` to every
///   sample. Fine-grained measurement noise.
///
/// Both noise vectors are always drawn in full, masked or not, so the random
/// stream stays aligned with Python.
fn add_noise(x: &mut [f64], corr_scale: f64, iid_scale: f64, rng: &mut NumpyRng) {
    let white: Vec<f64> = rng
        .randn_vec(x.len())
        .into_iter()
        .map(|g| corr_scale * g)
        .collect();
    let corr = gaussian_filter(&white);
    for (v, c) in x.iter_mut().zip(&corr) {
        let mask = if *v != 0.0 { 1.0 } else { 0.0 };
        *v = mask * *v + (1.0 - mask) * c;
    }
    let iid = rng.randn_vec(x.len());
    for (v, g) in x.iter_mut().zip(iid) {
        *v += iid_scale * g;
    }
}

/// Shear: subtracts the ramp `coeff * linspace(-0.5, 0.5, L)` with
/// `coeff = shear_scale * (U - 0.5)`, `U = rand()`.
///
/// Adds a random linear trend (baseline tilt) across the whole window; with
/// the default 0.75 the end-to-end tilt lies in [-0.375, 0.375).
fn shear(x: &mut [f64], shear_scale: f64, rng: &mut NumpyRng) {
    let coeff = shear_scale * (rng.rand() - 0.5);
    let ramp = linspace(-0.5, 0.5, x.len());
    for (v, r) in x.iter_mut().zip(ramp) {
        *v -= coeff * r;
    }
}

/// Interpolate: linear resampling of `x` to `n` points, both grids spanning
/// [0, 1] (`interp1d(linspace(0,1,len(x)), x, kind='linear')(linspace(0,1,n))`).
///
/// Used to dilate the padded template to the fixed working length and, at
/// the end, to subsample to `final_seq_length`. For 1-D float data SciPy
/// delegates `interp1d(kind='linear')` to `np.interp`, reproduced by [`interp`].
fn interpolate(x: &[f64], n: usize) -> Vec<f64> {
    let old = linspace(0.0, 1.0, x.len());
    let new = linspace(0.0, 1.0, n);
    interp(&new, &old, x)
}

/// `np.linspace(start, stop, num)` (endpoint included), same arithmetic:
/// `step = (stop - start) / (num - 1)`, `y[i] = i * step + start`, and the
/// last point set to `stop` exactly.
fn linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    if num == 0 {
        return Vec::new();
    }
    if num == 1 {
        return vec![start];
    }
    let div = (num - 1) as f64;
    let delta = stop - start;
    let step = delta / div;
    let mut y: Vec<f64> = (0..num)
        .map(|i| {
            let i = i as f64;
            if step == 0.0 {
                i / div * delta + start
            } else {
                i * step + start
            }
        })
        .collect();
    y[num - 1] = stop;
    y
}

/// `np.interp(x, xp, fp)` for increasing `xp` (NumPy's `arr_interp`):
/// for `xp[j] <= x < xp[j+1]`, `slope * (x - xp[j]) + fp[j]` with
/// `slope = (fp[j+1] - fp[j]) / (xp[j+1] - xp[j])`; exact grid hits and the
/// right end return `fp[j]`; points outside clamp to the end values.
fn interp(x: &[f64], xp: &[f64], fp: &[f64]) -> Vec<f64> {
    debug_assert_eq!(xp.len(), fp.len());
    let last = xp.len() - 1;
    let mut j = 0usize;
    x.iter()
        .map(|&xv| {
            if xv < xp[0] {
                return fp[0];
            }
            if xv > xp[last] {
                return fp[last];
            }
            // Largest j with xp[j] <= xv; the queries are increasing, so
            // continue from the previous index but also allow moving back.
            while j > 0 && xp[j] > xv {
                j -= 1;
            }
            while j < last && xp[j + 1] <= xv {
                j += 1;
            }
            if j == last || xp[j] == xv {
                fp[j]
            } else {
                let slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j]);
                slope * (xv - xp[j]) + fp[j]
            }
        })
        .collect()
}

/// Radius of the Gaussian kernel: `int(truncate * sigma + 0.5)` with
/// SciPy's default `truncate = 4.0` and the hard-coded `sigma = 2`.
const GAUSS_RADIUS: usize = 8;

/// `exp(-k^2 / 8)` for `k = 0..=8`, correctly rounded (checked with 60-digit
/// decimal arithmetic; glibc's `exp` returns these same values).
///
/// They are constants rather than `f64::exp` calls so that the kernel does not
/// depend on the platform's libm. NumPy itself is not consistent here: on
/// CPUs with AVX-512 its vectorized `np.exp` returns `k = 1` and `k = 5` one
/// ulp low (`0x1.c3d6a24ed8221p-1`, `0x1.67ee6d9ff847bp-5`), on other CPUs it
/// calls libm and gets the values below.
const GAUSS_EXP: [f64; GAUSS_RADIUS + 1] = [
    1.0,
    f64::from_bits(0x3fec_3d6a_24ed_8222), // exp(-0.125)
    f64::from_bits(0x3fe3_68b2_fc6f_960a), // exp(-0.5)
    f64::from_bits(0x3fd4_c71b_2477_ab20), // exp(-1.125)
    f64::from_bits(0x3fc1_52aa_a3bf_81cc), // exp(-2)
    f64::from_bits(0x3fa6_7ee6_d9ff_847c), // exp(-3.125)
    f64::from_bits(0x3f86_c050_4695_c417), // exp(-4.5)
    f64::from_bits(0x3f61_eb80_5a03_296c), // exp(-6.125)
    f64::from_bits(0x3f35_fc21_0410_27ad), // exp(-8)
];

/// SciPy's `_gaussian_kernel1d(sigma=2, order=0, radius=8)`: the 17 weights
/// `phi(x) = exp(-x^2 / (2 sigma^2))` for `x = -8..=8`, divided by their
/// (pairwise) sum so they add up to 1.
///
/// This is the only step that is not guaranteed bit-identical to the Python
/// package: see [`GAUSS_EXP`]. On an AVX-512 machine the NumPy weights differ
/// in the last bit, which moves the final dataset by about 1e-16.
fn gaussian_kernel() -> [f64; 2 * GAUSS_RADIUS + 1] {
    let mut phi = [0.0; 2 * GAUSS_RADIUS + 1];
    for (i, w) in phi.iter_mut().enumerate() {
        *w = GAUSS_EXP[i.abs_diff(GAUSS_RADIUS)];
    }
    let total = pairwise_sum(&phi);
    for w in &mut phi {
        *w /= total;
    }
    phi
}

/// `scipy.ndimage.gaussian_filter(x, 2)` on a 1-D signal: correlation with
/// the normalized [`gaussian_kernel`] (sigma 2, radius 8) under SciPy's
/// default `mode='reflect'`, which extends the signal by mirroring it about
/// its edges including the edge sample (`d c b a | a b c d | d c b a`).
///
/// The sum uses the order of SciPy's `NI_Correlate1D` fast path for
/// symmetric kernels: `x[i] * w[0]`, then `(x[i-j] + x[i+j]) * w[j]` added
/// for `j = 8, 7, ..., 1`. Smoothing white noise with a Gaussian of width 2
/// samples gives the correlated (low-frequency) background noise.
fn gaussian_filter(x: &[f64]) -> Vec<f64> {
    let w = gaussian_kernel();
    let r = GAUSS_RADIUS;
    let n = x.len();
    // Half-sample symmetric extension, repeated as NI_ExtendLine does when
    // the signal is shorter than the radius.
    let at = |i: isize| -> f64 {
        let period = 2 * n as isize;
        let mut k = i.rem_euclid(period);
        if k >= n as isize {
            k = period - 1 - k;
        }
        x[k as usize]
    };
    (0..n as isize)
        .map(|i| {
            let mut acc = x[i as usize] * w[r];
            for j in (1..=r).rev() {
                let ji = j as isize;
                acc += (at(i - ji) + at(i + ji)) * w[r - j];
            }
            acc
        })
        .collect()
}

/// NumPy's pairwise summation (`DOUBLE_pairwise_sum`), used by `np.sum`,
/// `np.mean` and `np.std` along a contiguous axis: blocks of up to 128
/// values are summed with 8 interleaved accumulators, longer inputs are
/// split in two (at a multiple of 8) and summed recursively.
fn pairwise_sum(a: &[f64]) -> f64 {
    let n = a.len();
    if n < 8 {
        let mut res = -0.0;
        for &v in a {
            res += v;
        }
        res
    } else if n <= 128 {
        let mut r = [0.0; 8];
        r.copy_from_slice(&a[..8]);
        let mut i = 8;
        while i < n - n % 8 {
            for (k, acc) in r.iter_mut().enumerate() {
                *acc += a[i + k];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &v in &a[i..] {
            res += v;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        pairwise_sum(&a[..n2]) + pairwise_sum(&a[n2..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference output of the Python package, written by
    /// `fixtures/make_mnist1d_fixture.py`.
    const FIXTURE: &str = include_str!("fixtures/mnist1d_small.json");

    fn fixture() -> serde_json::Value {
        serde_json::from_str(FIXTURE).expect("fixture is valid JSON")
    }

    /// Arrays are stored as whitespace-separated `repr()` strings; Rust's
    /// `parse::<f64>` is correctly rounded, so this recovers the exact bits.
    fn floats(v: &serde_json::Value) -> Vec<f64> {
        v.as_str()
            .expect("float array stored as a string")
            .split_whitespace()
            .map(|s| s.parse().expect("float"))
            .collect()
    }

    fn labels(v: &serde_json::Value) -> Vec<u8> {
        v.as_array()
            .expect("label array")
            .iter()
            .map(|l| l.as_u64().expect("label") as u8)
            .collect()
    }

    fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max)
    }

    fn small_config(num_samples: usize, seed: u64) -> Mnist1dConfig {
        Mnist1dConfig {
            num_samples,
            seed,
            ..Mnist1dConfig::default()
        }
    }

    /// Tolerance for comparing with the fixture: zero (bit equality) when
    /// NumPy's `exp` produced the same Gaussian kernel as our constants,
    /// otherwise 1e-9 (the kernel then differs by one ulp, see
    /// [`gaussian_kernel`]; measured difference ~7e-16).
    fn tolerance(fx: &serde_json::Value) -> f64 {
        if fx["numpy_exp_matches_libm"].as_bool().expect("flag") {
            0.0
        } else {
            1e-9
        }
    }

    #[test]
    fn matches_python_fixture() {
        let fx = fixture();
        let tol = tolerance(&fx);
        let small = &fx["small"];
        let cfg = small_config(100, 42);
        let got = generate_f64(&cfg);
        assert_eq!(got.seq_len, small["seq_len"].as_u64().unwrap() as usize);
        assert_eq!(got.y_train, labels(&small["y_train"]));
        assert_eq!(got.y_test, labels(&small["y_test"]));
        let d_train = max_abs_diff(&got.x_train, &floats(&small["x_train"]));
        let d_test = max_abs_diff(&got.x_test, &floats(&small["x_test"]));
        eprintln!("max |rust - python|: train {d_train:e}, test {d_test:e}");
        assert!(d_train <= tol && d_test <= tol, "{d_train} {d_test}");
        // The f32 output is the reference rounded to f32.
        let f = got.to_f32();
        let want: Vec<f32> = floats(&small["x_test"]).iter().map(|&v| v as f32).collect();
        if tol == 0.0 {
            assert_eq!(f.x_test, want);
        }
    }

    #[test]
    fn matches_python_fixture_with_shuffle_seq() {
        let fx = fixture();
        let tol = tolerance(&fx);
        let case = &fx["shuffle_seq"];
        let cfg = Mnist1dConfig {
            shuffle_seq: true,
            ..small_config(10, 3)
        };
        let got = generate_f64(&cfg);
        assert_eq!(got.y_train, labels(&case["y_train"]));
        assert_eq!(got.y_test, labels(&case["y_test"]));
        assert!(max_abs_diff(&got.x_train, &floats(&case["x_train"])) <= tol);
        assert!(max_abs_diff(&got.x_test, &floats(&case["x_test"])) <= tol);
    }

    #[test]
    fn templates_are_bit_identical_to_numpy() {
        let want = floats(&fixture()["templates"]);
        let got: Vec<f64> = templates().iter().flatten().copied().collect();
        assert_eq!(got, want);
    }

    #[test]
    fn default_config_facts_match_python() {
        let fx = fixture();
        let tol = tolerance(&fx);
        let facts = &fx["default"];
        let got = generate_f64(&Mnist1dConfig::default());
        let n_train = facts["n_train"].as_u64().unwrap() as usize;
        let n_test = facts["n_test"].as_u64().unwrap() as usize;
        assert_eq!((n_train, n_test), (4000, 1000));
        assert_eq!(got.y_train.len(), n_train);
        assert_eq!(got.y_test.len(), n_test);
        assert_eq!(got.y_train[..20], labels(&facts["y_train_head"])[..]);
        assert_eq!(got.y_test[..20], labels(&facts["y_test_head"])[..]);
        let row0 = floats(&facts["x_train_row0"]);
        assert!(max_abs_diff(&got.x_train[..40], &row0) <= tol);
        let last = floats(&facts["x_test_last_row"]);
        assert!(max_abs_diff(&got.x_test[got.x_test.len() - 40..], &last) <= tol);
        let sum_train: f64 = facts["x_train_sum"].as_str().unwrap().parse().unwrap();
        let sum_test: f64 = facts["x_test_sum"].as_str().unwrap().parse().unwrap();
        // `x.sum()` in NumPy is the same pairwise sum; without bit equality
        // the per-value differences (< 1e-15) accumulate over 160k values.
        let sum_tol = if tol == 0.0 { 0.0 } else { 1e-6 };
        assert!((pairwise_sum(&got.x_train) - sum_train).abs() <= sum_tol);
        assert!((pairwise_sum(&got.x_test) - sum_test).abs() <= sum_tol);
    }

    #[test]
    fn deterministic_for_a_seed() {
        let cfg = small_config(200, 7);
        assert_eq!(generate(&cfg), generate(&cfg));
    }

    #[test]
    fn different_seeds_differ() {
        let a = generate(&small_config(100, 1));
        let b = generate(&small_config(100, 2));
        assert_ne!(a.x_train, b.x_train);
        assert_ne!(a.y_train, b.y_train);
    }

    #[test]
    fn shapes_and_class_balance() {
        // 105 requested -> 10 per class, 100 rows, 80/20 split.
        let cfg = small_config(105, 3);
        let d = generate(&cfg);
        assert_eq!(d.seq_len, 40);
        assert_eq!((d.y_train.len(), d.y_test.len()), (80, 20));
        assert_eq!(d.x_train.len(), 80 * 40);
        assert_eq!(d.x_test.len(), 20 * 40);
        let mut counts = [0usize; NUM_CLASSES];
        for &y in d.y_train.iter().chain(&d.y_test) {
            counts[y as usize] += 1;
        }
        assert_eq!(counts, [10; NUM_CLASSES]);
    }

    #[test]
    fn standardized_over_all_values() {
        let d = generate_f64(&small_config(300, 11));
        let all: Vec<f64> = d.x_train.iter().chain(&d.x_test).copied().collect();
        let n = all.len() as f64;
        let mean = all.iter().sum::<f64>() / n;
        let var = all.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        assert!(mean.abs() < 1e-12, "mean {mean}");
        assert!((var.sqrt() - 1.0).abs() < 1e-12, "std {}", var.sqrt());
    }

    #[test]
    fn f32_is_rounded_f64() {
        let d = generate_f64(&small_config(50, 5));
        let f = d.to_f32();
        assert_eq!(f.x_train.len(), d.x_train.len());
        assert!(
            f.x_train
                .iter()
                .zip(&d.x_train)
                .all(|(&a, &b)| a == b as f32)
        );
        assert_eq!(f.y_test, d.y_test);
    }

    #[test]
    fn shuffle_seq_permutes_time_axis() {
        let plain = generate_f64(&small_config(50, 9));
        let cfg = Mnist1dConfig {
            shuffle_seq: true,
            ..small_config(50, 9)
        };
        let shuffled = generate_f64(&cfg);
        // Same rows and labels (the permutation comes after the batch
        // shuffle), same multiset of values per row, different order. The
        // values agree only to rounding: the global mean is summed in the
        // permuted order.
        assert_eq!(plain.y_train, shuffled.y_train);
        let sorted = |r: &[f64]| {
            let mut v = r.to_vec();
            v.sort_by(f64::total_cmp);
            v
        };
        for (a, b) in plain.x_train.chunks(40).zip(shuffled.x_train.chunks(40)) {
            assert!(max_abs_diff(a, b) > 0.1);
            assert!(max_abs_diff(&sorted(a), &sorted(b)) < 1e-12);
        }
    }

    #[test]
    fn validate_rejects_bad_configs() {
        let ok = Mnist1dConfig::default();
        assert!(ok.validate().is_ok());
        let bad = [
            Mnist1dConfig {
                num_samples: 9,
                ..ok.clone()
            },
            Mnist1dConfig {
                train_split: 0.0,
                ..ok.clone()
            },
            Mnist1dConfig {
                train_split: 1.0,
                ..ok.clone()
            },
            Mnist1dConfig {
                train_split: f64::NAN,
                ..ok.clone()
            },
            Mnist1dConfig {
                num_samples: 10,
                train_split: 0.05,
                ..ok.clone()
            },
            Mnist1dConfig {
                padding: [61, 60],
                ..ok.clone()
            },
            Mnist1dConfig {
                max_translation: 0,
                ..ok.clone()
            },
            Mnist1dConfig {
                final_seq_length: 1,
                ..ok.clone()
            },
            Mnist1dConfig {
                template_len: 0,
                padding: [0, 1],
                ..ok.clone()
            },
            Mnist1dConfig {
                shear_scale: -1.0,
                ..ok.clone()
            },
            Mnist1dConfig {
                iid_noise_scale: f64::INFINITY,
                ..ok.clone()
            },
            Mnist1dConfig {
                seed: 1 << 32,
                ..ok.clone()
            },
        ];
        let max_seed = Mnist1dConfig {
            seed: u64::from(u32::MAX),
            ..ok.clone()
        };
        assert!(max_seed.validate().is_ok());
        for cfg in bad {
            assert!(cfg.validate().is_err(), "{cfg:?}");
        }
    }

    #[test]
    #[should_panic(expected = "invalid MNIST-1D config")]
    fn generate_panics_on_invalid_config() {
        generate(&small_config(5, 0));
    }

    #[test]
    fn gaussian_constants_match_libm() {
        for (k, &c) in GAUSS_EXP.iter().enumerate() {
            let e = (-((k * k) as f64) / 8.0).exp();
            let ulps = c.to_bits().abs_diff(e.to_bits());
            assert!(ulps <= 1, "k={k}: {c:e} vs {e:e}");
        }
        let w = gaussian_kernel();
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        assert!((0..w.len()).all(|i| w[i] == w[w.len() - 1 - i]));
    }

    #[test]
    fn gaussian_filter_reflects_at_edges() {
        // A constant is preserved (weights sum to 1, reflection keeps it).
        let c = gaussian_filter(&[2.5; 30]);
        assert!(c.iter().all(|v| (v - 2.5).abs() < 1e-14));
        // Half-sample symmetric extension: the filter of a signal equals the
        // middle of the filter of its mirrored concatenation.
        let x: Vec<f64> = (0..20).map(|i| ((i * 7) % 11) as f64).collect();
        let mut mirrored: Vec<f64> = x.iter().rev().copied().collect();
        mirrored.extend(&x);
        mirrored.extend(x.iter().rev());
        let full = gaussian_filter(&mirrored);
        let part = gaussian_filter(&x);
        assert!(max_abs_diff(&full[20..40], &part) < 1e-12);
    }

    #[test]
    fn linspace_and_interp_follow_numpy() {
        let l = linspace(0.0, 1.0, 5);
        assert_eq!(l, [0.0, 0.25, 0.5, 0.75, 1.0]);
        assert_eq!(linspace(-0.5, 0.5, 72)[71], 0.5);
        let y = interp(&[0.0, 0.1, 0.5, 1.0], &[0.0, 0.5, 1.0], &[1.0, 3.0, -1.0]);
        assert_eq!(y[0], 1.0);
        assert!((y[1] - 1.4).abs() < 1e-15);
        assert_eq!(y[2], 3.0);
        assert_eq!(y[3], -1.0);
        // Interpolating to the same grid is the identity.
        let x: Vec<f64> = (0..13).map(|i| (i as f64).sin()).collect();
        assert_eq!(interpolate(&x, 13), x);
    }

    #[test]
    fn pairwise_sum_adds_every_value() {
        // Integer sums are exact in any order, so this checks that the
        // recursion visits every value once; the order itself is checked
        // against NumPy by `default_config_facts_match_python` (x.sum()).
        for n in [0, 1, 7, 8, 9, 127, 128, 129, 1000, 4097] {
            let v: Vec<f64> = (0..n).map(|i| (i % 17) as f64).collect();
            let want: f64 = v.iter().sum();
            assert_eq!(pairwise_sum(&v), want, "n={n}");
        }
    }
}
