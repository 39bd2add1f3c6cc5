//! The one source of `exp`, `ln`, `sqrt`, `tanh`, `sigmoid` and `sin_cos` in firmnet.
//!
//! Every layer, loss, optimizer and initializer calls these functions and nothing else, so
//! the host and the firmware evaluate the same function: chosen here, per target and
//! feature, not by whichever `f32` method happens to be in scope.
//!
//! | function | default | with `fast-math` | bound (tested in `tests/math.rs`) |
//! | --- | --- | --- | --- |
//! | [`exp`] | `libm::expf` | micromath's `exp` | ≤ 1 ulp; fast: ≤ 2.5e-3 relative |
//! | [`tanh`] | `libm::tanhf` | `1 − 2/(e^{2x}+1)` on micromath's `exp` | ≤ 2 ulp; fast: ≤ 1.1e-3 absolute |
//! | [`sigmoid`] | `1/(1+e^{−x})` on [`exp`] | same formula, fast [`exp`] | ≤ 3 ulp; fast: ≤ 6e-4 absolute |
//! | [`ln`] | `libm::logf` | unchanged | ≤ 1 ulp |
//! | [`sqrt`] | correctly rounded: `vsqrt.f32` on Arm cores with an FPU, `libm::sqrtf` elsewhere | unchanged | exact (IEEE 754) |
//! | [`sin_cos`] | `libm::sinf`, `libm::cosf` | unchanged | ≤ 1 ulp |
//!
//! `ln` and `sqrt` never take the fast path: micromath's `ln` is wrong for `0 < x < 1` and
//! its `sqrt` is about 5 % off, which would corrupt losses and Adam's step. micromath is
//! reached through its `F32` wrapper, so the inherent `f32` methods of `std` can never
//! shadow it on the host.
//!
//! Because `sqrt` is correctly rounded on every path and `libm` is the same portable code on
//! every target, a computation built from these functions and the reference kernels gives
//! the same bits on the host and on a Cortex-M4F.

/// `eˣ`. Overflows to `+∞` above ≈ 88.7 and underflows to `0` below ≈ −103.9.
#[inline]
pub fn exp(x: f32) -> f32 {
    #[cfg(feature = "fast-math")]
    {
        if x > 88.7 {
            return f32::INFINITY;
        }
        if x < -87.3 {
            return 0.0;
        }
        micromath::F32(x).exp().0
    }
    #[cfg(not(feature = "fast-math"))]
    {
        libm::expf(x)
    }
}

/// Natural logarithm; `ln(0) = −∞`, `ln(x < 0) = NaN`. Always `libm::logf`.
#[inline]
pub fn ln(x: f32) -> f32 {
    libm::logf(x)
}

/// Square root, correctly rounded (IEEE 754) on every target; `sqrt(x < 0) = NaN`.
///
/// On Arm cores with a hardware FPU (`eabihf`) this is one `vsqrt.f32` instruction; libm's
/// `sqrtf` would be a software routine there.
#[inline]
pub fn sqrt(x: f32) -> f32 {
    #[cfg(all(target_arch = "arm", target_abi = "eabihf"))]
    {
        vsqrt(x)
    }
    #[cfg(not(all(target_arch = "arm", target_abi = "eabihf")))]
    {
        libm::sqrtf(x)
    }
}

/// `vsqrt.f32`: the FPU's correctly rounded square root, one instruction.
///
/// A naked function, because the hard-float ABI already puts the argument and the result
/// in `s0`; rustc's inline-asm register classes do not expose the FPU registers on these
/// targets.
#[cfg(all(target_arch = "arm", target_abi = "eabihf"))]
#[allow(unsafe_code)]
// SAFETY: the body follows the AAPCS-VFP calling convention of `extern "C"` on `eabihf`
// targets: the argument arrives in s0, the result leaves in s0, only s0 is written (a
// caller-saved register) and control returns through lr. It touches no memory or stack.
#[unsafe(naked)]
extern "C" fn vsqrt(x: f32) -> f32 {
    // The directive tells the assembler the FPU exists: module-level assembly does not see
    // the target's features. fpv4-sp-d16 is the Cortex-M4F's FPU and a subset of the M7's.
    core::arch::naked_asm!(".fpu fpv4-sp-d16", "vsqrt.f32 s0, s0", "bx lr")
}

/// Hyperbolic tangent, in `[−1, 1]` for every finite input.
#[inline]
pub fn tanh(x: f32) -> f32 {
    #[cfg(feature = "fast-math")]
    {
        // Beyond |x| = 10, tanh rounds to ±1 in f32; clamping also keeps e^{2x} finite.
        let x = x.clamp(-10.0, 10.0);
        1.0 - 2.0 / (exp(2.0 * x) + 1.0)
    }
    #[cfg(not(feature = "fast-math"))]
    {
        libm::tanhf(x)
    }
}

/// Logistic sigmoid `1/(1+e^{−x})`, in `[0, 1]` for every input; never NaN for non-NaN `x`.
#[inline]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// `(sin x, cos x)`. Always libm.
#[inline]
pub fn sin_cos(x: f32) -> (f32, f32) {
    (libm::sinf(x), libm::cosf(x))
}

/// `xⁿ` for a step count `n`: `libm::powf`, within 1 ulp for `n < 2²⁴`. Used for Adam's
/// bias corrections `βᵗ` (repeated multiplication would lose about `n/2` ulps).
#[inline]
pub fn powi(x: f32, n: u32) -> f32 {
    libm::powf(x, n as f32)
}
