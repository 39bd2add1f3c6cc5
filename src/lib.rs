#![no_std]
#![deny(missing_docs)]
//! firmnet (crate docs: work in progress)

pub mod kernels;
