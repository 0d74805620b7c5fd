//! Compute devices: parse `--device`, and check that the chosen one can actually run.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// Where training runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ComputeDevice {
    /// burn's `flex` CPU backend (default).
    #[default]
    Cpu,
    /// burn's CUDA backend on GPU `index` (needs the `cuda` feature and an NVIDIA driver).
    Cuda(usize),
}

impl FromStr for ComputeDevice {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        let bad = |message: &str| Error::BadArgument {
            flag: "--device".into(),
            value: text.into(),
            message: message.into(),
        };
        match text.trim().to_ascii_lowercase().as_str() {
            "cpu" => Ok(ComputeDevice::Cpu),
            "cuda" | "gpu" => Ok(ComputeDevice::Cuda(0)),
            other => match other.strip_prefix("cuda:") {
                Some(index) => index
                    .parse()
                    .map(ComputeDevice::Cuda)
                    .map_err(|_| bad("expected cuda:N with N a GPU index, e.g. cuda:0")),
                None => Err(bad("expected cpu, cuda or cuda:N")),
            },
        }
    }
}

impl fmt::Display for ComputeDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ComputeDevice::Cpu => f.write_str("cpu"),
            ComputeDevice::Cuda(i) => write!(f, "cuda:{i}"),
        }
    }
}

impl ComputeDevice {
    /// Error unless this binary can use the device. For CUDA this runs a tiny tensor operation and
    /// turns a missing driver (which burn reports by panicking) into a clear error.
    pub fn check_available(&self) -> Result<(), Error> {
        match self {
            ComputeDevice::Cpu => Ok(()),
            #[cfg(not(feature = "cuda"))]
            ComputeDevice::Cuda(_) => Err(Error::DeviceUnsupported {
                device: self.to_string(),
                message: "this lrcast was built without CUDA support; rebuild with \
                          `cargo build --release --features cuda`, or use --device cpu"
                    .into(),
            }),
            #[cfg(feature = "cuda")]
            ComputeDevice::Cuda(index) => cuda_probe(*index).map_err(|message| Error::Device {
                device: self.to_string(),
                message,
            }),
        }
    }
}

/// Work that runs on any autodiff backend; [`run_on`] picks the backend for a [`ComputeDevice`].
pub trait OnBackend {
    /// What the work returns.
    type Output;
    /// Do the work on backend `B`.
    fn run<B: burn::tensor::backend::AutodiffBackend>(self, device: &B::Device) -> Self::Output;
}

/// Run `work` on `device`: burn's flex CPU backend, or CUDA (with the `cuda` feature). This is the
/// one place that maps devices to backends.
pub fn run_on<W: OnBackend>(device: ComputeDevice, work: W) -> Result<W::Output, Error> {
    device.check_available()?;
    match device {
        ComputeDevice::Cpu => {
            use burn::backend::{Autodiff, Flex};
            Ok(work.run::<Autodiff<Flex>>(&Default::default()))
        }
        #[cfg(feature = "cuda")]
        ComputeDevice::Cuda(index) => {
            use burn::backend::{Autodiff, Cuda, cuda::CudaDevice};
            Ok(work.run::<Autodiff<Cuda>>(&CudaDevice::new(index)))
        }
        #[cfg(not(feature = "cuda"))]
        ComputeDevice::Cuda(_) => unreachable!("check_available rejects CUDA without the feature"),
    }
}

#[cfg(feature = "cuda")]
fn cuda_probe(index: usize) -> Result<(), String> {
    use burn::backend::Cuda;
    use burn::backend::cuda::CudaDevice;
    use burn::tensor::Tensor;
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let outcome = std::panic::catch_unwind(|| {
        let device = CudaDevice::new(index);
        let t = Tensor::<Cuda, 1>::from_floats([1.0, 2.0], &device);
        t.sum().into_scalar()
    });
    std::panic::set_hook(previous_hook);
    match outcome {
        Ok(_) => Ok(()),
        Err(panic) => {
            let detail = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Err(format!(
                "CUDA is not usable here (no NVIDIA driver or GPU {index} not present{}); \
                 use --device cpu",
                if detail.is_empty() {
                    String::new()
                } else {
                    format!(": {detail}")
                }
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_devices() {
        assert_eq!("cpu".parse::<ComputeDevice>().unwrap(), ComputeDevice::Cpu);
        assert_eq!(
            "CUDA".parse::<ComputeDevice>().unwrap(),
            ComputeDevice::Cuda(0)
        );
        assert_eq!(
            "cuda:1".parse::<ComputeDevice>().unwrap(),
            ComputeDevice::Cuda(1)
        );
        assert!("tpu".parse::<ComputeDevice>().is_err());
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn cuda_without_feature_is_bad_input() {
        let err = ComputeDevice::Cuda(0).check_available().unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("--features cuda"));
    }
}
