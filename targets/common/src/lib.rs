//! The computations firmnet's test firmware runs and the host repeats to check them.
//!
//! Every module uses only `firmnet` and `core` and prints nothing itself: each reports its
//! numbers through a callback, which the firmware prints over semihosting and the host
//! compares with its own run of the same code. The firmware crates under `targets/` and
//! the repository's tests and `verify` example depend on this crate.
//!
//! | module | what | run by |
//! | --- | --- | --- |
//! | [`training`] | a small classifier trained with Adam on the device, in `static`s | `qemu-cortex-m4` |
//! | [`int8`] | int8 layers and networks in RAM and flash, a float network converted to int8 on the device | `qemu-cortex-m0`, `qemu-riscv32` |
//! | [`fashion`] | the main job's int8 Fashion-MNIST network (CNN or MLP) over embedded test images | every target (`--features deploy`) |
//! | [`finetune`] | the MLP's last layer fine-tuned with Adam on the device | `qemu-cortex-m4` |
//! | [`finetune_cnn`] | the int8 CNN's last layers fine-tuned the same way | `qemu-cortex-m4` |
//! | [`cnn_kernels`] | int8 convolutions, pools and the residual add on seeded values, with checksums | `qemu-cortex-m4` (`count_cnn`) |
//! | [`f32_kernels`] | the f32 dense products (forward, batch forward, gradients) on seeded values, with checksums | `qemu-cortex-m4` (`count_f32`) |
//! | [`bench`] | the markers of instruction-counting windows | `qemu-cortex-m4` (`count`, `count_cnn`, `count_model`) |
//! | [`mlperf`] | the MLPerf Tiny models borrowed from their weight files, over embedded inputs | `qemu-cortex-m4`, `qemu-riscv32` (`--features mlperf`) |
//! | [`report`] | output lines written without `core::fmt` | every target |
//! | `bundle` (feature `build`) | the build scripts' search for the deployment bundle | the firmware's `build.rs` |

#![no_std]
#![deny(missing_docs)]

#[cfg(feature = "build")]
extern crate std;

pub mod bench;
#[cfg(feature = "build")]
pub mod bundle;
pub mod cnn_kernels;
pub mod f32_kernels;
pub mod fashion;
pub mod finetune;
pub mod finetune_cnn;
pub mod int8;
pub mod mlperf;
pub mod report;
pub mod training;

/// The deployment bundle's files embedded in flash, for firmware built with
/// `--features deploy` (whose `build.rs` exports the bundle's folder as
/// `FIRMNET_DEPLOY_DIR`, see `bundle`): `bundle!(MODEL: "model_int8.fnet")` defines
/// `static MODEL: &Aligned<[u8]>` with the file, 16-byte aligned so that its tensors can be
/// borrowed in place.
#[macro_export]
macro_rules! bundle {
    ($($name:ident: $file:literal),+ $(,)?) => {
        $(
            #[doc = concat!("`", $file, "` from the deployment bundle.")]
            #[allow(dead_code)]
            static $name: &firmnet::format::Aligned<[u8]> = &firmnet::format::Aligned(
                *include_bytes!(concat!(env!("FIRMNET_DEPLOY_DIR"), "/", $file))
            );
        )+
    };
}
