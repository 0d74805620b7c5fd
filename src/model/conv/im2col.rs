//! f32 convolution kernels on raw slices: im2col + one gemm per group for the forward pass, and the
//! two backward products (grad_input by gemm then col2im, grad_weight by gemm against the same
//! column matrix) without burn's conv-transpose detour.
//!
//! The batch is cut into chunks of `nb` samples whose column matrix `[c_in·kh·kw, nb·oh·ow]` stays
//! cache-sized; chunks run in parallel on rayon's pool, each gemm single-threaded, so tiny layers
//! (MNIST-1D: 5 output positions) still get gemms wide enough to pay and big layers never hold a
//! whole-batch column matrix. Backward recomputes the columns per chunk instead of keeping them
//! from the forward: it costs one cheap gather and saves `c_in·kh·kw` times the input's memory.

use rayon::prelude::*;

use crate::model::gemm::{Mat, gemm, gemm_parallelism};

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

    /// Samples per chunk: the column matrix near [`COLS_TARGET`] floats, but at least
    /// [`LANES`] chunks when the batch allows. Depends on the shapes only, never on the machine.
    fn chunk(&self) -> usize {
        let per_sample = self.c_in * self.kh * self.kw * self.positions();
        let by_cache = (COLS_TARGET / per_sample).max(1);
        by_cache.min(self.batch.div_ceil(LANES))
    }
}

/// Units of parallel work per batch (a fixed number, so results do not depend on the machine's
/// thread count; 8 keeps 2–8 threads busy).
const LANES: usize = 8;

/// Floats in one chunk's column matrix (512 KiB: half a core's L2 here).
const COLS_TARGET: usize = 1 << 17;

/// For kernel column `kj`: the output columns `ox` whose input column `ox·s + kj·d − p` lies
/// inside `[0, w)`, as `lo..hi`, plus that input column for `ox = lo`.
fn valid_range(
    out: usize,
    len: usize,
    stride: usize,
    pad: usize,
    offset: usize,
) -> (usize, usize, usize) {
    // ox·s + offset − pad ≥ 0  ⇔  ox ≥ ceil((pad − offset) / s)
    let lo = pad.saturating_sub(offset).div_ceil(stride).min(out);
    // ox·s + offset − pad < len  ⇔  ox < ceil((len + pad − offset) / s)
    let hi = (len + pad)
        .saturating_sub(offset)
        .div_ceil(stride)
        .clamp(lo, out);
    (lo, hi, (lo * stride + offset).saturating_sub(pad))
}

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

/// Fill the column matrix `cols: [c_in·kh·kw, nb·oh·ow]` of samples `x: [nb, c_in, h, w]`.
fn im2col(g: &ConvGeom, x: &[f32], nb: usize, cols: &mut [f32]) {
    let (p, hw) = (g.positions(), g.h * g.w);
    let width = nb * p;
    let [sh, sw] = g.stride;
    // Stride 1 and output as wide as the input ("same" convolutions: every 5×5 and 3×3/s1 layer
    // of the models): each (row, sample) block is the input plane shifted by a constant offset.
    let shifted = g.stride == [1, 1] && g.ow == g.w;
    for c in 0..g.c_in {
        for ki in 0..g.kh {
            for kj in 0..g.kw {
                let row = (c * g.kh + ki) * g.kw + kj;
                let (lo, hi, ix0) = valid_range(g.ow, g.w, sw, g.padding[1], kj * g.dilation[1]);
                let dst_row = &mut cols[row * width..(row + 1) * width];
                for s in 0..nb {
                    let plane = &x[(s * g.c_in + c) * hw..][..hw];
                    if shifted {
                        let dst = &mut dst_row[s * p..][..p];
                        shifted_block(g, plane, [ki, kj], (lo, hi), dst);
                        continue;
                    }
                    for oy in 0..g.oh {
                        let dst = &mut dst_row[s * p + oy * g.ow..][..g.ow];
                        let iy = (oy * sh + ki * g.dilation[0]).wrapping_sub(g.padding[0]);
                        if iy >= g.h {
                            dst.fill(0.0);
                            continue;
                        }
                        let src = &plane[iy * g.w..][..g.w];
                        dst[..lo].fill(0.0);
                        dst[hi..].fill(0.0);
                        if sw == 1 {
                            dst[lo..hi].copy_from_slice(&src[ix0..ix0 + (hi - lo)]);
                        } else {
                            for (d, s) in dst[lo..hi].iter_mut().zip(src[ix0..].iter().step_by(sw))
                            {
                                *d = *s;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// One `[oh, ow]` block of [`im2col`] when stride is 1 and `ow == w`: output position `q` reads
/// input position `q + shift` (one memcpy), then the rows outside the input and the `lo..hi`
/// complement of each row (which the shift wrapped onto neighbouring rows) are zeroed.
fn shifted_block(
    g: &ConvGeom,
    plane: &[f32],
    [ki, kj]: [usize; 2],
    (lo, hi): (usize, usize),
    dst: &mut [f32],
) {
    let w = g.w;
    let (y_lo, y_hi, iy0) = valid_range(g.oh, g.h, 1, g.padding[0], ki * g.dilation[0]);
    let (qa, qb) = (y_lo * w, y_hi * w);
    dst[..qa].fill(0.0);
    dst[qb..].fill(0.0);
    if qa == qb {
        return;
    }
    // Input index of output index q: q + shift, shift = (iy0 − y_lo)·w + kj·d − pad.
    let shift = (iy0 * w + kj * g.dilation[1]) as isize - (qa + g.padding[1]) as isize;
    let src_lo = (qa as isize + shift).clamp(0, plane.len() as isize) as usize;
    let src_hi = (qb as isize + shift).clamp(src_lo as isize, plane.len() as isize) as usize;
    let (d_lo, d_hi) = (
        (src_lo as isize - shift) as usize,
        (src_hi as isize - shift) as usize,
    );
    dst[qa..d_lo].fill(0.0);
    dst[d_lo..d_hi].copy_from_slice(&plane[src_lo..src_hi]);
    dst[d_hi..qb].fill(0.0);
    for row in dst[qa..qb].chunks_mut(w) {
        row[..lo].fill(0.0);
        row[hi..].fill(0.0);
    }
}

/// Add the column matrix `cols` back onto the input positions it was gathered from (the adjoint
/// of [`im2col`]); `gx: [nb, c_in, h, w]` must start zeroed.
fn col2im(g: &ConvGeom, cols: &[f32], nb: usize, gx: &mut [f32]) {
    let (p, hw) = (g.positions(), g.h * g.w);
    let width = nb * p;
    let [sh, sw] = g.stride;
    for c in 0..g.c_in {
        for ki in 0..g.kh {
            for kj in 0..g.kw {
                let row = (c * g.kh + ki) * g.kw + kj;
                let (lo, hi, ix0) = valid_range(g.ow, g.w, sw, g.padding[1], kj * g.dilation[1]);
                let src_row = &cols[row * width..(row + 1) * width];
                for s in 0..nb {
                    let plane = &mut gx[(s * g.c_in + c) * hw..][..hw];
                    for oy in 0..g.oh {
                        let iy = (oy * sh + ki * g.dilation[0]).wrapping_sub(g.padding[0]);
                        if iy >= g.h {
                            continue;
                        }
                        let src = &src_row[s * p + oy * g.ow..][lo..hi];
                        let dst = &mut plane[iy * g.w..][..g.w];
                        if sw == 1 {
                            for (d, s) in dst[ix0..ix0 + (hi - lo)].iter_mut().zip(src) {
                                *d += *s;
                            }
                        } else {
                            for (d, s) in dst[ix0..].iter_mut().step_by(sw).zip(src) {
                                *d += *s;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Forward convolution: `x: [batch, c_in, h, w]`, `weight: [c_out, c_in/groups, kh, kw]`,
/// `bias: [c_out]` (all contiguous) → `[batch, c_out, oh, ow]`.
pub fn conv2d_forward(g: &ConvGeom, x: &[f32], weight: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
    let (p, kg) = (g.positions(), g.k_group());
    let og = g.c_out / g.groups;
    let nb = g.chunk();
    let chunks = g.batch.div_ceil(nb);
    let mut out = vec![0.0f32; g.batch * g.c_out * p];
    let in_sample = g.c_in * g.h * g.w;
    out.par_chunks_mut(nb * g.c_out * p)
        .zip(x.par_chunks(nb * in_sample))
        .for_each_init(
            || (Vec::new(), Vec::new()),
            |(cols, buf): &mut (Vec<f32>, Vec<f32>), (out, x)| {
                let n = x.len() / in_sample;
                let width = n * p;
                cols.resize(g.c_in * g.kh * g.kw * width, 0.0);
                im2col(g, x, n, cols);
                // One sample: the gemm writes the output rows in place; several: into a
                // [c_out, n·p] buffer, then scattered to [n, c_out, p].
                let direct = n == 1;
                if !direct {
                    buf.resize(g.c_out * width, 0.0);
                }
                let dst: &mut [f32] = if direct { out } else { buf };
                for gi in 0..g.groups {
                    let dims = [og, width, kg];
                    gemm(
                        dims,
                        &mut dst[gi * og * width..],
                        width,
                        false,
                        Mat {
                            data: &weight[gi * og * kg..],
                            rs: kg,
                            cs: 1,
                        },
                        Mat {
                            data: &cols[gi * kg * width..],
                            rs: width,
                            cs: 1,
                        },
                        gemm_parallelism(chunks, dims),
                    );
                }
                if !direct {
                    for s in 0..n {
                        for o in 0..g.c_out {
                            out[(s * g.c_out + o) * p..][..p]
                                .copy_from_slice(&buf[o * width + s * p..][..p]);
                        }
                    }
                }
                if let Some(bias) = bias {
                    for (row, &b) in out.chunks_mut(p).zip(bias.iter().cycle()) {
                        row.iter_mut().for_each(|v| *v += b);
                    }
                }
            },
        );
    out
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

/// Scratch matrices of one backward worker.
#[derive(Default)]
struct Scratch {
    cols: Vec<f32>,
    gbuf: Vec<f32>,
}

/// Backward convolution from `grad_out: [batch, c_out, oh, ow]` (contiguous).
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
    let p = g.positions();
    let nb = g.chunk();
    let lane = g.batch.div_ceil(nb).div_ceil(LANES) * nb;
    let lanes = g.batch.div_ceil(lane);
    let in_sample = g.c_in * g.h * g.w;
    let mut grad_x = wanted.input.then(|| vec![0.0f32; g.batch * in_sample]);
    let gx_lanes: Vec<Option<&mut [f32]>> = match grad_x.as_mut() {
        Some(gx) => gx.chunks_mut(lane * in_sample).map(Some).collect(),
        None => (0..lanes).map(|_| None).collect(),
    };
    let partials: Vec<(Vec<f32>, Vec<f32>)> = gx_lanes
        .into_par_iter()
        .zip(x.par_chunks(lane * in_sample))
        .zip(grad_out.par_chunks(lane * g.c_out * p))
        .map_init(Scratch::default, |scratch, ((mut gx, x), gout)| {
            let mut grad_w = vec![
                0.0;
                if wanted.weight {
                    g.c_out * g.k_group()
                } else {
                    0
                }
            ];
            let mut grad_b = vec![0.0; if wanted.bias { g.c_out } else { 0 }];
            for (i, (x, gout)) in x
                .chunks(nb * in_sample)
                .zip(gout.chunks(nb * g.c_out * p))
                .enumerate()
            {
                let gx = gx
                    .as_deref_mut()
                    .map(|gx| &mut gx[i * nb * in_sample..][..x.len()]);
                backward_chunk(
                    g,
                    lanes,
                    scratch,
                    x,
                    weight,
                    gout,
                    gx,
                    &mut grad_w,
                    &mut grad_b,
                );
            }
            (grad_w, grad_b)
        })
        .collect();
    let mut sums = partials.into_iter();
    let (mut grad_w, mut grad_b) = sums.next().unwrap_or_default();
    for (w, b) in sums {
        grad_w.iter_mut().zip(&w).for_each(|(s, v)| *s += v);
        grad_b.iter_mut().zip(&b).for_each(|(s, v)| *s += v);
    }
    ConvGrads {
        input: grad_x,
        weight: wanted.weight.then_some(grad_w),
        bias: wanted.bias.then_some(grad_b),
    }
}

/// One chunk of `n` samples: adds its weight and bias gradients to `grad_w` / `grad_b` (when
/// those are non-empty) and writes its input gradient to `gx`.
#[allow(clippy::too_many_arguments)]
fn backward_chunk(
    g: &ConvGeom,
    workers: usize,
    scratch: &mut Scratch,
    x: &[f32],
    weight: &[f32],
    gout: &[f32],
    gx: Option<&mut [f32]>,
    grad_w: &mut [f32],
    grad_b: &mut [f32],
) {
    let (p, kg) = (g.positions(), g.k_group());
    let og = g.c_out / g.groups;
    let n = x.len() / (g.c_in * g.h * g.w);
    let width = n * p;
    // grad_out as [c_out, n·p] (a view when n = 1, else a transposing copy).
    let gmat: &[f32] = if n == 1 {
        gout
    } else {
        scratch.gbuf.resize(g.c_out * width, 0.0);
        for s in 0..n {
            for o in 0..g.c_out {
                scratch.gbuf[o * width + s * p..][..p]
                    .copy_from_slice(&gout[(s * g.c_out + o) * p..][..p]);
            }
        }
        &scratch.gbuf
    };
    for (o, b) in grad_b.iter_mut().enumerate() {
        *b += sum(&gmat[o * width..][..width]);
    }
    let cols = &mut scratch.cols;
    cols.resize(g.c_in * g.kh * g.kw * width, 0.0);
    if !grad_w.is_empty() {
        // grad_w_g[og, kg] += grad_out_g[og, n·p] · cols_gᵀ[n·p, kg]
        im2col(g, x, n, cols);
        for gi in 0..g.groups {
            let dims = [og, kg, width];
            gemm(
                dims,
                &mut grad_w[gi * og * kg..],
                kg,
                true,
                Mat {
                    data: &gmat[gi * og * width..],
                    rs: width,
                    cs: 1,
                },
                Mat {
                    data: &cols[gi * kg * width..],
                    rs: 1,
                    cs: width,
                },
                gemm_parallelism(workers, dims),
            );
        }
    }
    if let Some(gx) = gx {
        // d_cols_g[kg, n·p] = W_gᵀ[kg, og] · grad_out_g[og, n·p], then col2im.
        for gi in 0..g.groups {
            let dims = [kg, width, og];
            gemm(
                dims,
                &mut cols[gi * kg * width..],
                width,
                false,
                Mat {
                    data: &weight[gi * og * kg..],
                    rs: 1,
                    cs: kg,
                },
                Mat {
                    data: &gmat[gi * og * width..],
                    rs: width,
                    cs: 1,
                },
                gemm_parallelism(workers, dims),
            );
        }
        col2im(g, cols, n, gx);
    }
}
