//! A safe wrapper of the `gemm` crate's f32 matrix product on strided slices (bounds checked), and
//! the rule for when one product is split over threads.

use gemm::Parallelism;

/// Multiply-adds above which a single gemm is split over threads (only when chunks alone cannot
/// occupy them, i.e. batches smaller than the thread count).
const PARALLEL_GEMM_FLOPS: usize = 1 << 21;

/// Row-major matrix view for [`gemm`]: base slice, row stride, column stride.
#[derive(Clone, Copy)]
pub(crate) struct Mat<'a> {
    pub data: &'a [f32],
    pub rs: usize,
    pub cs: usize,
}

/// `dst[m×n] (row stride dst_rs) = (accumulate ? dst : 0) + lhs[m×k] · rhs[k×n]`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm(
    dims: [usize; 3],
    dst: &mut [f32],
    dst_rs: usize,
    accumulate: bool,
    lhs: Mat,
    rhs: Mat,
    parallelism: Parallelism,
) {
    gemm_strided(dims, dst, [dst_rs, 1], accumulate, lhs, rhs, parallelism);
}

/// [`gemm`] with any `dst` strides: element `(i, j)` of `dst` is `dst[i·rs + j·cs]`
/// (`[rs, cs] = [1, m]`: column-major, i.e. the transposed product stored row-major).
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm_strided(
    [m, n, k]: [usize; 3],
    dst: &mut [f32],
    [dst_rs, dst_cs]: [usize; 2],
    accumulate: bool,
    lhs: Mat,
    rhs: Mat,
    parallelism: Parallelism,
) {
    if m == 0 || n == 0 {
        return;
    }
    let last = |rows: usize, cols: usize, rs: usize, cs: usize| (rows - 1) * rs + (cols - 1) * cs;
    assert!(
        dst.len() > last(m, n, dst_rs, dst_cs),
        "gemm: dst too short"
    );
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                for j in 0..n {
                    dst[i * dst_rs + j * dst_cs] = 0.0;
                }
            }
        }
        return;
    }
    assert!(
        lhs.data.len() > last(m, k, lhs.rs, lhs.cs),
        "gemm: lhs too short"
    );
    assert!(
        rhs.data.len() > last(k, n, rhs.rs, rhs.cs),
        "gemm: rhs too short"
    );
    // SAFETY: the asserts above keep every element gemm touches (dst[i·rs + j·cs],
    // lhs[i·rs + l·cs], rhs[l·rs + j·cs] for i < m, j < n, l < k) inside the slices; `dst` is an
    // exclusive borrow, so nothing aliases it. (Distinct (i, j) may share a dst element only if
    // the caller passes overlapping strides, which no caller does.)
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            dst_cs as isize,
            dst_rs as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.cs as isize,
            lhs.rs as isize,
            rhs.data.as_ptr(),
            rhs.cs as isize,
            rhs.rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// Gemm threading: the `workers` parallel chunks or lanes already fill the pool unless there are
/// fewer of them than threads. (gemm splits rows and columns over threads, never the sum over
/// `k`, so this choice does not change results.)
pub(crate) fn gemm_parallelism(workers: usize, [m, n, k]: [usize; 3]) -> Parallelism {
    let threads = rayon::current_num_threads();
    if workers < threads && m * n * k >= PARALLEL_GEMM_FLOPS {
        Parallelism::Rayon(threads)
    } else {
        Parallelism::None
    }
}
