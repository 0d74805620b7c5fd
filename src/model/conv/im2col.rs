//! f32 convolution kernels on raw slices, position-major: each chunk of samples is copied to a
//! zero-padded channels-last buffer `[nb, h + 2p, w + 2p, c_in]`, gathered into a column matrix
//! with one row per output position (`[nb·oh·ow, kh·kw·c_in]`, every (row, ki) a single run of
//! `kw·c_in` floats), and multiplied by the weight with the output written position-major
//! (`[nb·oh·ow, c_out]`), then transposed to `[nb, c_out, oh, ow]` with the bias added. For the
//! `gemm` crate this orientation (output and column matrix both position-major) is its fastest on
//! these shapes (≈ 100 GFLOP/s a core against 80 for `[c_out, positions]` outputs). Backward: the
//! weight gradient is one gemm of the transposed output gradient against the same column matrix;
//! the input gradient of a stride-1 convolution is the forward pass of another convolution
//! ([`ConvGeom::input_grad_as_conv`]), otherwise a gemm to column gradients and a col2im scatter.
//!
//! The batch is cut into chunks of `nb` samples whose column matrix stays cache-sized; chunks run
//! in parallel on rayon's pool, each gemm single-threaded, so tiny layers (MNIST-1D: 5 output
//! positions) still get gemms wide enough to pay and big layers never hold a whole-batch column
//! matrix. Backward recomputes the columns per chunk instead of keeping them from the forward: it
//! costs one cheap gather and saves `c_in·kh·kw` times the input's memory. Scratch buffers live
//! per thread and are reused across calls (no allocation or zero-fill per step).

use std::cell::RefCell;
use std::mem::MaybeUninit;

use rayon::prelude::*;

use crate::model::flex::filled;
use crate::model::gemm::{Mat, gemm_parallelism, gemm_strided};

/// Shapes and options of one 2-D convolution (1-D is height 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeom {
    pub batch: usize,
    pub c_in: usize,
    pub h: usize,
    pub w: usize,
    pub c_out: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    pub dilation: [usize; 2],
    pub groups: usize,
    pub oh: usize,
    pub ow: usize,
}

impl ConvGeom {
    /// `x: [batch, c_in, h, w]`, `weight: [c_out, c_in / groups, kh, kw]`; `None` when the shapes
    /// do not fit together or the output would be empty (the caller then uses burn's conv, which
    /// reports the error).
    pub fn new(
        x: [usize; 4],
        weight: [usize; 4],
        stride: [usize; 2],
        padding: [usize; 2],
        dilation: [usize; 2],
        groups: usize,
    ) -> Option<Self> {
        let [batch, c_in, h, w] = x;
        let [c_out, c_per_group, kh, kw] = weight;
        let out_len = |len: usize, k: usize, s: usize, p: usize, d: usize| {
            let span = d.checked_mul(k.checked_sub(1)?)?.checked_add(1)?;
            let padded = len.checked_add(2 * p)?;
            (s > 0 && padded >= span).then(|| (padded - span) / s + 1)
        };
        let oh = out_len(h, kh, stride[0], padding[0], dilation[0])?;
        let ow = out_len(w, kw, stride[1], padding[1], dilation[1])?;
        let fits = groups > 0
            && c_in % groups == 0
            && c_out % groups == 0
            && c_per_group == c_in / groups
            && batch * c_in * h * w > 0
            && c_out * kh * kw > 0;
        fits.then_some(Self {
            batch,
            c_in,
            h,
            w,
            c_out,
            kh,
            kw,
            stride,
            padding,
            dilation,
            groups,
            oh,
            ow,
        })
    }

    /// Output positions per sample.
    fn positions(&self) -> usize {
        self.oh * self.ow
    }

    /// Rows of one group's column matrix (= columns of its weight matrix).
    fn k_group(&self) -> usize {
        self.c_in / self.groups * self.kh * self.kw
    }

    pub fn out_shape(&self) -> [usize; 4] {
        [self.batch, self.c_out, self.oh, self.ow]
    }

    /// The convolution whose forward pass is this one's input gradient, where there is one.
    /// With stride 1, `grad_x[c, iy, ix] = Σ grad_out[o, iy + p − ki·d, ix + p − kj·d] ·
    /// w[o, c, ki, kj]`: a convolution of `grad_out` (channels `c_out`) with the kernel flipped
    /// and its channel axes swapped ([`flipped_weight`]), padding `d·(k − 1) − p`, which must not
    /// be negative. Unlike a col2im scatter this has the long gemm sum (`c_out·kh·kw`), writes
    /// each input gradient once, and needs no zeroed output.
    fn input_grad_as_conv(&self) -> Option<ConvGeom> {
        if self.stride != [1, 1] {
            return None;
        }
        let pad = |k: usize, d: usize, p: usize| (d * (k - 1)).checked_sub(p);
        let t = ConvGeom::new(
            [self.batch, self.c_out, self.oh, self.ow],
            [self.c_in, self.c_out / self.groups, self.kh, self.kw],
            [1, 1],
            [
                pad(self.kh, self.dilation[0], self.padding[0])?,
                pad(self.kw, self.dilation[1], self.padding[1])?,
            ],
            self.dilation,
            self.groups,
        )?;
        (t.oh == self.h && t.ow == self.w).then_some(t)
    }

    /// Input size with the padding: `[h + 2·pad_h, w + 2·pad_w]`.
    fn padded_hw(&self) -> [usize; 2] {
        [self.h + 2 * self.padding[0], self.w + 2 * self.padding[1]]
    }

    /// Columns of the column matrix (all groups): `c_in·kh·kw`.
    fn k_total(&self) -> usize {
        self.c_in * self.kh * self.kw
    }

    /// Samples per chunk: the column matrix near [`COLS_TARGET`] floats, but at least
    /// [`LANES`] chunks when the batch allows. Depends on the shapes only, never on the machine.
    fn chunk(&self) -> usize {
        let per_sample = self.k_total() * self.positions();
        let by_cache = (COLS_TARGET / per_sample).max(1);
        by_cache.min(self.batch.div_ceil(LANES))
    }
}

/// Units of parallel work per batch (a fixed number, so results do not depend on the machine's
/// thread count; 8 keeps 2–8 threads busy).
const LANES: usize = 8;

/// Floats in one chunk's column matrix (512 KiB: half a core's L2 here).
const COLS_TARGET: usize = 1 << 17;

/// Sum of `v` in 8 interleaved partial sums: vectorises, and runs ~8× faster than one serial
/// chain of float additions (which the compiler may not reorder). Fixed order, so deterministic.
fn sum(v: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let mut chunks = v.chunks_exact(8);
    for c in &mut chunks {
        for (a, x) in acc.iter_mut().zip(c) {
            *a += x;
        }
    }
    let tail: f32 = chunks.remainder().iter().sum();
    acc.iter().sum::<f32>() + tail
}

/// Per-thread scratch, kept between calls: the padded channels-last input, the column matrix
/// and a position-major `[positions, channels]` matrix.
#[derive(Default)]
struct Scratch {
    padded: Vec<f32>,
    cols: Vec<f32>,
    rows: Vec<f32>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Run `f` with this thread's scratch. It is taken out while `f` runs, so a nested call (a rayon
/// worker that steals another chunk while a parallel gemm waits) gets a fresh one, never a
/// second borrow.
fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    let mut scratch = SCRATCH.with(|s| s.take());
    let result = f(&mut scratch);
    SCRATCH.with(|s| s.replace(scratch));
    result
}

/// The first `n` elements of `v`, grown (never shrunk) to fit: contents are left over from
/// earlier use, so callers overwrite everything they read.
fn scratch(v: &mut Vec<f32>, n: usize) -> &mut [f32] {
    if v.len() < n {
        v.resize(n, 0.0);
    }
    &mut v[..n]
}

/// `dst = src` for short runs (a plain loop: `memcpy` calls cost more than 5-float copies).
#[inline(always)]
fn copy(dst: &mut [f32], src: &[f32]) {
    if dst.len() >= 32 {
        dst.copy_from_slice(src);
    } else {
        for (d, s) in dst.iter_mut().zip(src) {
            *d = *s;
        }
    }
}

/// `dst[j·drs + i] = src[i·srs + j] + bias[j]` for `i < rows`, `j < cols` (no bias: `+ 0`):
/// 8×8 tiles with AVX where the CPU has it, a scalar loop for the edges and elsewhere. Every
/// element of `dst` in that pattern is written.
fn transpose(
    src: &[f32],
    srs: usize,
    [rows, cols]: [usize; 2],
    dst: &mut [MaybeUninit<f32>],
    drs: usize,
    bias: Option<&[f32]>,
) {
    if rows == 0 || cols == 0 {
        return;
    }
    assert!(
        src.len() >= (rows - 1) * srs + cols,
        "transpose: src too short"
    );
    assert!(
        dst.len() >= (cols - 1) * drs + rows,
        "transpose: dst too short"
    );
    assert!(
        bias.is_none_or(|b| b.len() >= cols),
        "transpose: bias too short"
    );
    let scalar =
        |dst: &mut [MaybeUninit<f32>], is: std::ops::Range<usize>, js: std::ops::Range<usize>| {
            for j in js {
                let b = bias.map_or(0.0, |b| b[j]);
                for i in is.clone() {
                    dst[j * drs + i].write(src[i * srs + j] + b);
                }
            }
        };
    let (r8, c8) = (rows / 8 * 8, cols / 8 * 8);
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx") {
        for i0 in (0..r8).step_by(8) {
            for j0 in (0..c8).step_by(8) {
                // SAFETY: AVX is present; the asserts above keep the tile's 8 rows of 8 source
                // elements (i0 + 7 < rows, j0 + 7 < cols) and 8 rows of 8 destination elements
                // inside the slices, and the 8 bias values inside `bias`.
                unsafe {
                    transpose8_avx(
                        src.as_ptr().add(i0 * srs + j0),
                        srs,
                        dst.as_mut_ptr().add(j0 * drs + i0).cast(),
                        drs,
                        bias.map(|b| b.as_ptr().add(j0)),
                    );
                }
            }
        }
        scalar(dst, 0..r8, c8..cols);
        scalar(dst, r8..rows, 0..cols);
        return;
    }
    scalar(dst, 0..rows, 0..cols);
}

/// One 8×8 tile of [`transpose`].
///
/// # Safety
/// AVX must be available; `src[i·srs + j]`, `dst[j·drs + i]` (i, j < 8) and `bias[0..8]` must be
/// valid.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn transpose8_avx(
    src: *const f32,
    srs: usize,
    dst: *mut f32,
    drs: usize,
    bias: Option<*const f32>,
) {
    use std::arch::x86_64::*;
    // SAFETY: the caller's contract.
    unsafe {
        let r: [__m256; 8] = std::array::from_fn(|i| _mm256_loadu_ps(src.add(i * srs)));
        let t0 = _mm256_unpacklo_ps(r[0], r[1]);
        let t1 = _mm256_unpackhi_ps(r[0], r[1]);
        let t2 = _mm256_unpacklo_ps(r[2], r[3]);
        let t3 = _mm256_unpackhi_ps(r[2], r[3]);
        let t4 = _mm256_unpacklo_ps(r[4], r[5]);
        let t5 = _mm256_unpackhi_ps(r[4], r[5]);
        let t6 = _mm256_unpacklo_ps(r[6], r[7]);
        let t7 = _mm256_unpackhi_ps(r[6], r[7]);
        let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
        let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
        let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
        let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
        let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
        let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
        let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
        let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
        let out = [
            _mm256_permute2f128_ps::<0x20>(u0, u4),
            _mm256_permute2f128_ps::<0x20>(u1, u5),
            _mm256_permute2f128_ps::<0x20>(u2, u6),
            _mm256_permute2f128_ps::<0x20>(u3, u7),
            _mm256_permute2f128_ps::<0x31>(u0, u4),
            _mm256_permute2f128_ps::<0x31>(u1, u5),
            _mm256_permute2f128_ps::<0x31>(u2, u6),
            _mm256_permute2f128_ps::<0x31>(u3, u7),
        ];
        for (j, v) in out.into_iter().enumerate() {
            let v = match bias {
                Some(b) => _mm256_add_ps(v, _mm256_set1_ps(*b.add(j))),
                None => v,
            };
            _mm256_storeu_ps(dst.add(j * drs), v);
        }
    }
}

/// `v` viewed as possibly-uninitialised (to share [`transpose`] with fresh outputs).
fn as_uninit(v: &mut [f32]) -> &mut [MaybeUninit<f32>] {
    // SAFETY: same layout; writing initialised values through the view keeps `v` initialised.
    unsafe { &mut *(v as *mut [f32] as *mut [MaybeUninit<f32>]) }
}

/// `x: [nb, c_in, h, w]` → `padded: [nb, h + 2·ph, w + 2·pw, c_in]`, zero outside the input.
/// With column padding each sample is transposed whole into `tmp` (full 8×8 tiles, where row by
/// row a 14- or 28-wide row would leave a scalar edge) and copied row by row.
fn to_padded(g: &ConvGeom, x: &[f32], nb: usize, padded: &mut [f32], tmp: &mut Vec<f32>) {
    let (c, [h, w], [hp, wp], [ph, pw]) = (g.c_in, [g.h, g.w], g.padded_hw(), g.padding);
    for (s, dst) in padded.chunks_exact_mut(hp * wp * c).take(nb).enumerate() {
        let x = &x[s * c * h * w..][..c * h * w];
        dst[..ph * wp * c].fill(0.0);
        dst[(ph + h) * wp * c..].fill(0.0);
        if pw == 0 {
            // Rows follow each other: the whole plane is one [c, h·w] → [h·w, c] transposition.
            let dst = as_uninit(&mut dst[ph * wp * c..][..h * w * c]);
            transpose(x, h * w, [c, h * w], dst, c, None);
            continue;
        }
        let src: &[f32] = if c == 1 {
            x
        } else {
            let t = scratch(tmp, h * w * c);
            transpose(x, h * w, [c, h * w], as_uninit(t), c, None);
            t
        };
        for y in 0..h {
            let row = &mut dst[(ph + y) * wp * c..][..wp * c];
            row[..pw * c].fill(0.0);
            row[(pw + w) * c..].fill(0.0);
            copy(&mut row[pw * c..][..w * c], &src[y * w * c..][..w * c]);
        }
    }
}

/// The interior of `padded: [nb, hp, wp, c_in]` back to `gx: [nb, c_in, h, w]` (every element
/// written).
fn from_padded(g: &ConvGeom, padded: &[f32], nb: usize, gx: &mut [MaybeUninit<f32>]) {
    let (c, [h, w], [hp, wp], [ph, pw]) = (g.c_in, [g.h, g.w], g.padded_hw(), g.padding);
    for s in 0..nb {
        let src = &padded[s * hp * wp * c..][..hp * wp * c];
        let gx = &mut gx[s * c * h * w..][..c * h * w];
        for y in 0..h {
            let row = &src[((ph + y) * wp + pw) * c..][..w * c];
            transpose(row, c, [w, c], &mut gx[y * w..], h * w, None);
        }
    }
}

/// The column matrix `cols: [nb·oh·ow, kt]` of `padded` (see [`to_padded`]), `kt = c_in·kh·kw`
/// ordered (group, ki, kj, channel in group): row `q` holds every input value output position
/// `q` reads.
fn im2col(g: &ConvGeom, padded: &[f32], nb: usize, cols: &mut [f32]) {
    let (c, [hp, wp], [sh, sw], [dh, dw]) = (g.c_in, g.padded_hw(), g.stride, g.dilation);
    let (kt, cg, p) = (g.k_total(), g.c_in / g.groups, g.positions());
    // One group and no column dilation: for each ki the kw·c values are adjacent in `padded`.
    let merged = g.groups == 1 && dw == 1;
    for s in 0..nb {
        let plane = &padded[s * hp * wp * c..][..hp * wp * c];
        for oy in 0..g.oh {
            for ox in 0..g.ow {
                let dst = &mut cols[(s * p + oy * g.ow + ox) * kt..][..kt];
                for ki in 0..g.kh {
                    let base = ((oy * sh + ki * dh) * wp + ox * sw) * c;
                    if merged {
                        let run = g.kw * c;
                        copy(&mut dst[ki * run..][..run], &plane[base..][..run]);
                        continue;
                    }
                    for gi in 0..g.groups {
                        for kj in 0..g.kw {
                            copy(
                                &mut dst[((gi * g.kh + ki) * g.kw + kj) * cg..][..cg],
                                &plane[base + kj * dw * c + gi * cg..][..cg],
                            );
                        }
                    }
                }
            }
        }
    }
}

/// Add the column matrix back onto the padded positions it was gathered from (the adjoint of
/// [`im2col`]); `padded` must start zeroed.
fn col2im(g: &ConvGeom, cols: &[f32], nb: usize, padded: &mut [f32]) {
    let (c, [hp, wp], [sh, sw], [dh, dw]) = (g.c_in, g.padded_hw(), g.stride, g.dilation);
    let (kt, cg, p) = (g.k_total(), g.c_in / g.groups, g.positions());
    for s in 0..nb {
        let plane = &mut padded[s * hp * wp * c..][..hp * wp * c];
        for oy in 0..g.oh {
            for ox in 0..g.ow {
                let src = &cols[(s * p + oy * g.ow + ox) * kt..][..kt];
                for ki in 0..g.kh {
                    let base = ((oy * sh + ki * dh) * wp + ox * sw) * c;
                    for gi in 0..g.groups {
                        for kj in 0..g.kw {
                            let dst = &mut plane[base + kj * dw * c + gi * cg..][..cg];
                            let src = &src[((gi * g.kh + ki) * g.kw + kj) * cg..][..cg];
                            for (d, v) in dst.iter_mut().zip(src) {
                                *d += *v;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The weight `[c_out, c_in/groups, kh, kw]` with each row reordered as the columns of
/// [`im2col`]: `[c_out, kh, kw, c_in/groups]`.
fn weight_rows(g: &ConvGeom, weight: &[f32]) -> Vec<f32> {
    let (cg, k) = (g.c_in / g.groups, g.kh * g.kw);
    let mut rows = vec![0.0f32; weight.len()];
    for (dst, src) in rows
        .chunks_exact_mut(cg * k)
        .zip(weight.chunks_exact(cg * k))
    {
        for c in 0..cg {
            for j in 0..k {
                dst[j * cg + c] = src[c * k + j];
            }
        }
    }
    rows
}

/// The inverse of [`weight_rows`].
fn weight_from_rows(g: &ConvGeom, rows: &[f32]) -> Vec<f32> {
    let (cg, k) = (g.c_in / g.groups, g.kh * g.kw);
    let mut weight = vec![0.0f32; rows.len()];
    for (dst, src) in weight
        .chunks_exact_mut(cg * k)
        .zip(rows.chunks_exact(cg * k))
    {
        for c in 0..cg {
            for j in 0..k {
                dst[c * k + j] = src[j * cg + c];
            }
        }
    }
    weight
}

/// Forward convolution: `x: [batch, c_in, h, w]`, `weight: [c_out, c_in/groups, kh, kw]`,
/// `bias: [c_out]` (all contiguous) → `[batch, c_out, oh, ow]`.
pub fn conv2d_forward(g: &ConvGeom, x: &[f32], weight: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
    let (p, kg, kt) = (g.positions(), g.k_group(), g.k_total());
    let og = g.c_out / g.groups;
    let [hp, wp] = g.padded_hw();
    let nb = g.chunk();
    let chunks = g.batch.div_ceil(nb);
    let w_rows = weight_rows(g, weight);
    let (in_sample, out_sample) = (g.c_in * g.h * g.w, g.c_out * p);
    filled(g.batch * out_sample, |out| {
        out.par_chunks_mut(nb * out_sample)
            .zip(x.par_chunks(nb * in_sample))
            .for_each(|(out, x)| {
                with_scratch(|sc| {
                    let n = x.len() / in_sample;
                    let padded = scratch(&mut sc.padded, n * hp * wp * g.c_in);
                    to_padded(g, x, n, padded, &mut sc.rows);
                    let cols = scratch(&mut sc.cols, n * p * kt);
                    im2col(g, padded, n, cols);
                    // rows[q, o] = Σ_k cols[q, k] · w_rows[o, k], group by group.
                    let rows = scratch(&mut sc.rows, n * p * g.c_out);
                    for gi in 0..g.groups {
                        let dims = [og, n * p, kg];
                        gemm_strided(
                            dims,
                            &mut rows[gi * og..],
                            [1, g.c_out],
                            false,
                            Mat {
                                data: &w_rows[gi * og * kg..],
                                rs: kg,
                                cs: 1,
                            },
                            Mat {
                                data: &cols[gi * kg..],
                                rs: 1,
                                cs: kt,
                            },
                            gemm_parallelism(chunks, dims),
                        );
                    }
                    for s in 0..n {
                        transpose(
                            &rows[s * p * g.c_out..][..p * g.c_out],
                            g.c_out,
                            [p, g.c_out],
                            &mut out[s * out_sample..][..out_sample],
                            p,
                            bias,
                        );
                    }
                })
            });
    })
}

/// The weight of [`ConvGeom::input_grad_as_conv`]: `[c_in, c_out / groups, kh, kw]` with
/// `flipped[gi·cg + c, o, i, j] = weight[gi·og + o, c, kh − 1 − i, kw − 1 − j]` (`cg`, `og` the
/// input and output channels per group).
fn flipped_weight(g: &ConvGeom, weight: &[f32]) -> Vec<f32> {
    let (cg, og, k) = (g.c_in / g.groups, g.c_out / g.groups, g.kh * g.kw);
    let mut flipped = vec![0.0f32; weight.len()];
    for gi in 0..g.groups {
        for o in 0..og {
            for c in 0..cg {
                let src = &weight[((gi * og + o) * cg + c) * k..][..k];
                let dst = &mut flipped[((gi * cg + c) * og + o) * k..][..k];
                for (d, s) in dst.iter_mut().zip(src.iter().rev()) {
                    *d = *s;
                }
            }
        }
    }
    flipped
}

/// Which gradients [`conv2d_backward`] computes.
#[derive(Debug, Clone, Copy)]
pub struct Wanted {
    pub input: bool,
    pub weight: bool,
    pub bias: bool,
}

/// Gradients of one convolution (those not wanted are `None`).
#[derive(Debug, Default)]
pub struct ConvGrads {
    pub input: Option<Vec<f32>>,
    pub weight: Option<Vec<f32>>,
    pub bias: Option<Vec<f32>>,
}

/// Backward convolution from `grad_out: [batch, c_out, oh, ow]` (contiguous). The input gradient
/// of a stride-1 convolution is the forward pass of [`ConvGeom::input_grad_as_conv`].
///
/// The weight and bias gradients sum over the batch; to keep that sum's order (and so the low
/// bits of training runs) independent of thread count and scheduling, the batch is split into
/// [`LANES`] fixed lanes, each lane sums its chunks in order, and the lanes are added in order.
pub fn conv2d_backward(
    g: &ConvGeom,
    x: &[f32],
    weight: &[f32],
    grad_out: &[f32],
    wanted: Wanted,
) -> ConvGrads {
    let transposed = g.input_grad_as_conv().filter(|_| wanted.input);
    let input = transposed.map(|t| conv2d_forward(&t, grad_out, &flipped_weight(g, weight), None));
    let rest = Wanted {
        input: wanted.input && input.is_none(),
        ..wanted
    };
    let mut grads = if rest.input || rest.weight || rest.bias {
        backward_by_columns(g, x, weight, grad_out, rest)
    } else {
        ConvGrads::default()
    };
    if input.is_some() {
        grads.input = input;
    }
    grads
}

/// [`conv2d_backward`] through the column matrices: the weight gradient against im2col of the
/// input, the input gradient (when asked) by col2im of `grad_outᵀ · weight`.
fn backward_by_columns(
    g: &ConvGeom,
    x: &[f32],
    weight: &[f32],
    grad_out: &[f32],
    wanted: Wanted,
) -> ConvGrads {
    let p = g.positions();
    let nb = g.chunk();
    let lane = g.batch.div_ceil(nb).div_ceil(LANES) * nb;
    let lanes = g.batch.div_ceil(lane);
    let in_sample = g.c_in * g.h * g.w;
    let w_rows = wanted.input.then(|| weight_rows(g, weight));
    let per_lane = |gx: Option<&mut [MaybeUninit<f32>]>, x: &[f32], gout: &[f32]| {
        with_scratch(|sc| {
            let mut grad_w = vec![
                0.0;
                if wanted.weight {
                    g.c_out * g.k_group()
                } else {
                    0
                }
            ];
            let mut grad_b = vec![0.0; if wanted.bias { g.c_out } else { 0 }];
            let mut gx = gx;
            for (i, (x, gout)) in x
                .chunks(nb * in_sample)
                .zip(gout.chunks(nb * g.c_out * p))
                .enumerate()
            {
                let gx = gx
                    .as_deref_mut()
                    .map(|gx| &mut gx[i * nb * in_sample..][..x.len()]);
                let sums = (&mut grad_w[..], &mut grad_b[..]);
                backward_chunk(g, lanes, sc, x, w_rows.as_deref(), gout, gx, sums);
            }
            (grad_w, grad_b)
        })
    };
    let x_lanes = x.par_chunks(lane * in_sample);
    let gout_lanes = grad_out.par_chunks(lane * g.c_out * p);
    let mut partials: Vec<(Vec<f32>, Vec<f32>)> = Vec::new();
    let grad_x = wanted.input.then(|| {
        filled(g.batch * in_sample, |gx| {
            partials = gx
                .par_chunks_mut(lane * in_sample)
                .zip(x_lanes.clone())
                .zip(gout_lanes.clone())
                .map(|((gx, x), gout)| per_lane(Some(gx), x, gout))
                .collect();
        })
    });
    if !wanted.input {
        partials = x_lanes
            .zip(gout_lanes)
            .map(|(x, gout)| per_lane(None, x, gout))
            .collect();
    }
    let mut sums = partials.into_iter();
    let (mut grad_w, mut grad_b) = sums.next().unwrap_or_default();
    for (w, b) in sums {
        grad_w.iter_mut().zip(&w).for_each(|(s, v)| *s += v);
        grad_b.iter_mut().zip(&b).for_each(|(s, v)| *s += v);
    }
    ConvGrads {
        input: grad_x,
        weight: wanted.weight.then(|| weight_from_rows(g, &grad_w)),
        bias: wanted.bias.then_some(grad_b),
    }
}

/// One chunk of `n` samples: adds its weight gradient (in [`weight_rows`] order) and bias
/// gradient to `sums` (those non-empty) and writes its input gradient to `gx` (with `w_rows`).
#[allow(clippy::too_many_arguments)]
fn backward_chunk(
    g: &ConvGeom,
    workers: usize,
    sc: &mut Scratch,
    x: &[f32],
    w_rows: Option<&[f32]>,
    gout: &[f32],
    gx: Option<&mut [MaybeUninit<f32>]>,
    (grad_w, grad_b): (&mut [f32], &mut [f32]),
) {
    let (p, kg, kt) = (g.positions(), g.k_group(), g.k_total());
    let og = g.c_out / g.groups;
    let [hp, wp] = g.padded_hw();
    let n = x.len() / (g.c_in * g.h * g.w);
    let width = n * p;
    for (o, b) in grad_b.iter_mut().enumerate() {
        for s in 0..n {
            *b += sum(&gout[(s * g.c_out + o) * p..][..p]);
        }
    }
    let padded = scratch(&mut sc.padded, n * hp * wp * g.c_in);
    let cols = scratch(&mut sc.cols, width * kt);
    if !grad_w.is_empty() {
        // grad_w[o, k] += Σ_q grad_out[o, q] · cols[q, k], sample by sample and group by group.
        to_padded(g, x, n, padded, &mut sc.rows);
        im2col(g, padded, n, cols);
        for s in 0..n {
            for gi in 0..g.groups {
                let dims = [og, kg, p];
                gemm_strided(
                    dims,
                    &mut grad_w[gi * og * kg..],
                    [kg, 1],
                    true,
                    Mat {
                        data: &gout[(s * g.c_out + gi * og) * p..],
                        rs: p,
                        cs: 1,
                    },
                    Mat {
                        data: &cols[s * p * kt + gi * kg..],
                        rs: kt,
                        cs: 1,
                    },
                    gemm_parallelism(workers, dims),
                );
            }
        }
    }
    if let (Some(gx), Some(w_rows)) = (gx, w_rows) {
        // d_cols[q, k] = Σ_o grad_out[o, q] · w_rows[o, k], sample by sample and group by
        // group, then col2im.
        for s in 0..n {
            for gi in 0..g.groups {
                let dims = [p, kg, og];
                gemm_strided(
                    dims,
                    &mut cols[s * p * kt + gi * kg..],
                    [kt, 1],
                    false,
                    Mat {
                        data: &gout[(s * g.c_out + gi * og) * p..],
                        rs: 1,
                        cs: p,
                    },
                    Mat {
                        data: &w_rows[gi * og * kg..],
                        rs: kg,
                        cs: 1,
                    },
                    gemm_parallelism(workers, dims),
                );
            }
        }
        padded.fill(0.0);
        col2im(g, cols, n, padded);
        from_padded(g, padded, n, gx);
    }
}
