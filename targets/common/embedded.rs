//! The deployment bundle's int8 network and test images, embedded in flash: included by the
//! deployment firmware (`#[path = …] mod embedded;`), whose `build.rs` exports the bundle's
//! folder as `FIRMNET_DEPLOY_DIR` (see `bundle.rs`).

use firmnet::format::Aligned;

/// The int8 network (`model_int8.fnet`), 16-byte aligned so that its tensors can be
/// borrowed in place.
pub static MODEL: &Aligned<[u8]> = &Aligned(*include_bytes!(concat!(
    env!("FIRMNET_DEPLOY_DIR"),
    "/model_int8.fnet"
)));
/// Test images, 784 raw pixels each.
pub static IMAGES: &[u8] = include_bytes!(concat!(env!("FIRMNET_DEPLOY_DIR"), "/test_images.bin"));
/// Their labels, one byte each.
pub static LABELS: &[u8] = include_bytes!(concat!(env!("FIRMNET_DEPLOY_DIR"), "/test_labels.bin"));
