//! The bridge from models generic over `B: Backend` to lrcast's own CPU kernels: recognise the
//! `Flex` / `Autodiff<Flex>` backend at run time (`TypeId`), move tensors to the concrete type
//! through `Box<dyn Any>`, and view Flex tensors as f32 slices.

use std::any::{Any, TypeId};
use std::mem::MaybeUninit;

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::flex::{FlexTensor, Layout};
use burn::backend::{Autodiff, Flex};
use burn::tensor::{Bytes, DType, Shape, Tensor, backend::Backend};

/// The CPU training backend.
pub(crate) type Ad = Autodiff<Flex>;

/// Move `value` to type `U` when it is one (`T` and `U` the same type), else hand it back.
pub(crate) fn cast<T: 'static, U: 'static>(value: T) -> Result<U, T> {
    if TypeId::of::<T>() != TypeId::of::<U>() {
        return Err(value);
    }
    let boxed: Box<dyn Any> = Box::new(value);
    Ok(*boxed.downcast::<U>().expect("same TypeId"))
}

/// [`cast`] where the caller has already checked that `T` is `U`.
pub(crate) fn moved<T: 'static, U: 'static>(value: T) -> U {
    cast(value).unwrap_or_else(|_| unreachable!("backend type checked by TypeId"))
}

/// Whether `B` is a backend with the fast path (`Flex` or `Autodiff<Flex>`).
pub fn fast_backend<B: Backend>() -> bool {
    let backend = TypeId::of::<B>();
    backend == TypeId::of::<Flex>() || backend == TypeId::of::<Ad>()
}

/// The float primitive of an f32 tensor (never quantized: callers check the dtype first).
pub(crate) fn float<B: Backend, const D: usize>(t: Tensor<B, D>) -> B::FloatTensorPrimitive {
    t.into_primitive().tensor()
}

/// Contiguous f32 copy-free view (or contiguous copy) of a Flex tensor.
pub(crate) fn contiguous(t: FlexTensor) -> FlexTensor {
    if t.as_slice::<f32>().is_some() {
        t
    } else {
        t.to_contiguous()
    }
}

/// The f32 elements of a contiguous tensor.
pub(crate) fn f32s(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>().expect("contiguous f32 tensor")
}

/// A contiguous f32 Flex tensor of `shape` holding `data`.
pub(crate) fn flex_tensor(data: Vec<f32>, shape: impl Into<Shape>) -> FlexTensor {
    FlexTensor::new(
        Bytes::from_elems(data),
        Layout::contiguous(shape.into()),
        DType::F32,
    )
}

/// Register each computed gradient (with its shape) for its parent node, in order; parents that track
/// no gradient (`None`) and gradients not computed are skipped.
pub(crate) fn register_grads(
    grads: &mut Gradients,
    parents: impl IntoIterator<Item = Option<NodeId>>,
    computed: impl IntoIterator<Item = (Option<Vec<f32>>, Shape)>,
) {
    for (parent, (grad, shape)) in parents.into_iter().zip(computed) {
        if let (Some(node), Some(grad)) = (parent, grad) {
            grads.register::<Flex>(node, flex_tensor(grad, shape));
        }
    }
}

/// A vector of `len` f32s, every one written by `fill`, which gets them uninitialised (outputs
/// that a kernel overwrites entirely need no zero-fill first).
pub(crate) fn filled(len: usize, fill: impl FnOnce(&mut [MaybeUninit<f32>])) -> Vec<f32> {
    let mut v = Vec::with_capacity(len);
    fill(&mut v.spare_capacity_mut()[..len]);
    // SAFETY: every caller's `fill` writes all `len` elements (its loops cover the whole slice);
    // f32 has no invalid bit patterns and no drop.
    unsafe { v.set_len(len) };
    v
}
