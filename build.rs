//! Tells the crate which Arm cores have the DSP extension (`SXTB16`, `SMLAD`): the
//! `thumbv7em` targets, Cortex-M4 and M7. Stable Rust does not expose the `dsp` target
//! feature to `cfg`, so the target's name decides, as in the `cortex-m` crate.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(firmnet_arm_dsp)");
    let target = std::env::var("TARGET").unwrap_or_default();
    if target.starts_with("thumbv7em") {
        println!("cargo::rustc-cfg=firmnet_arm_dsp");
    }
}
