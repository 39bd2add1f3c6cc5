//! Which instruction set the SIMD kernels run: chosen once, at the first kernel call, from
//! what the CPU has; readable with [`simd_level`]; lowered with [`set_simd_level`] or the
//! `FIRMNET_SIMD` environment variable, so that tests and CI can run the baseline path on a
//! CPU that has more.

use core::fmt;
use core::sync::atomic::{AtomicU8, Ordering};

/// An instruction set of the SIMD kernels ([`Backend::Simd`](super::Backend::Simd)),
/// lowest first. A target has either [`Scalar`](Self::Scalar), or
/// [`Portable`](Self::Portable), or the x86-64 levels; the module docs of
/// [`kernels`](super) say which bits each computes. New levels may come (the enum is
/// `#[non_exhaustive]`): a `match` on it needs a wildcard arm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum SimdLevel {
    /// No float SIMD on this target (Cortex-M, RISC-V): [`Backend::Simd`](super::Backend)
    /// runs the reference kernels.
    Scalar,
    /// `wide`'s 8-lane vectors at the build's target features: AArch64 (NEON, fused
    /// multiply–add) and 32-bit x86.
    Portable,
    /// x86-64 baseline, on every x86-64 CPU: SSE2, two 4-lane halves per vector, the
    /// product rounded before the sum (no FMA).
    Sse2,
    /// x86-64 with AVX2 and FMA: 8 lanes, fused multiply–add; chosen when the CPU has both
    /// and not AVX-512.
    Avx2,
    /// x86-64 with AVX-512F and AVX-512VL as well: the [`Avx2`](Self::Avx2) kernels (same
    /// bits) compiled with 32 registers, and the convolution product
    /// ([`gemm_nt_ordered`](super::gemm_nt_ordered)) on 16 lanes, with the bits of its
    /// 8-lane version.
    Avx512,
}

impl SimdLevel {
    /// Every level, lowest first.
    pub const ALL: [SimdLevel; 5] = [
        SimdLevel::Scalar,
        SimdLevel::Portable,
        SimdLevel::Sse2,
        SimdLevel::Avx2,
        SimdLevel::Avx512,
    ];

    /// The name `FIRMNET_SIMD` takes: `scalar`, `portable`, `sse2`, `avx2` or `avx512`.
    pub const fn name(self) -> &'static str {
        match self {
            SimdLevel::Scalar => "scalar",
            SimdLevel::Portable => "portable",
            SimdLevel::Sse2 => "sse2",
            SimdLevel::Avx2 => "avx2",
            SimdLevel::Avx512 => "avx512",
        }
    }

    /// The level called `name` ([`name`](Self::name), any case), if there is one.
    pub fn from_name(name: &str) -> Option<SimdLevel> {
        Self::ALL
            .into_iter()
            .find(|l| l.name().eq_ignore_ascii_case(name.trim()))
    }

    /// Whether this build, on this CPU, can run the level.
    pub fn is_available(self) -> bool {
        const X86_64: bool = cfg!(target_arch = "x86_64");
        const PORTABLE: bool = cfg!(any(target_arch = "x86", target_arch = "aarch64"));
        match self {
            SimdLevel::Scalar => !X86_64 && !PORTABLE,
            SimdLevel::Portable => PORTABLE,
            SimdLevel::Sse2 => X86_64,
            SimdLevel::Avx2 => avx2_available(),
            SimdLevel::Avx512 => avx512_available(),
        }
    }

    /// The highest level this build runs on this CPU: what the kernels use unless told
    /// otherwise.
    pub fn best() -> SimdLevel {
        Self::ALL
            .into_iter()
            .rev()
            .find(|l| l.is_available())
            .unwrap_or(SimdLevel::Scalar)
    }

    /// The levels this build runs on this CPU, lowest first.
    pub fn available() -> impl Iterator<Item = SimdLevel> {
        Self::ALL.into_iter().filter(|l| l.is_available())
    }
}

#[cfg(target_arch = "x86_64")]
fn avx2_available() -> bool {
    super::x86::Avx2::detect().is_some()
}

#[cfg(not(target_arch = "x86_64"))]
fn avx2_available() -> bool {
    false
}

#[cfg(target_arch = "x86_64")]
fn avx512_available() -> bool {
    super::x86::Avx512::detect().is_some()
}

#[cfg(not(target_arch = "x86_64"))]
fn avx512_available() -> bool {
    false
}

impl fmt::Display for SimdLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// [`set_simd_level`] was asked for a level this build or CPU cannot run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LevelUnavailable {
    /// The level asked for.
    pub requested: SimdLevel,
    /// The highest level available here.
    pub best: SimdLevel,
}

impl fmt::Display for LevelUnavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SIMD level `{}` is not available on this CPU and target (available: ",
            self.requested
        )?;
        for (i, l) in SimdLevel::available().enumerate() {
            write!(f, "{}`{l}`", if i == 0 { "" } else { ", " })?;
        }
        write!(f, "; the best is `{}`)", self.best)
    }
}

impl core::error::Error for LevelUnavailable {}

/// The selected level as `1 + index in ALL`; 0 until the first call decides.
static LEVEL: AtomicU8 = AtomicU8::new(0);

/// The instruction set the SIMD kernels run, decided at the first call and cached: the
/// best the CPU has ([`SimdLevel::best`]), unless `FIRMNET_SIMD` (read then, with the
/// `std` feature) names an available level — `sse2`, `avx2` or `avx512` on x86-64 — or
/// [`set_simd_level`] chose one. An unknown name, or a level this CPU lacks, leaves the
/// best level in place.
#[inline]
pub fn simd_level() -> SimdLevel {
    match LEVEL.load(Ordering::Relaxed) {
        0 => {
            // Threads that race here all store the same level.
            let level = from_env().unwrap_or_else(SimdLevel::best);
            LEVEL.store(encode(level), Ordering::Relaxed);
            level
        }
        l => decode(l),
    }
}

/// Makes `level` the instruction set of all later kernel calls, on every thread (for tests
/// and comparisons: the default is the best level). Errs, and changes nothing, if this
/// build or CPU cannot run it.
pub fn set_simd_level(level: SimdLevel) -> Result<(), LevelUnavailable> {
    if !level.is_available() {
        return Err(LevelUnavailable {
            requested: level,
            best: SimdLevel::best(),
        });
    }
    // Decide the first level now, so that this choice is not overwritten by it.
    simd_level();
    LEVEL.store(encode(level), Ordering::Relaxed);
    Ok(())
}

fn encode(level: SimdLevel) -> u8 {
    level as u8 + 1
}

fn decode(v: u8) -> SimdLevel {
    SimdLevel::ALL[usize::from(v - 1)]
}

/// The level `FIRMNET_SIMD` names, if it is set to an available one.
#[cfg(feature = "std")]
fn from_env() -> Option<SimdLevel> {
    let name = std::env::var("FIRMNET_SIMD").ok()?;
    SimdLevel::from_name(&name).filter(|l| l.is_available())
}

#[cfg(not(feature = "std"))]
fn from_env() -> Option<SimdLevel> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for l in SimdLevel::ALL {
            assert_eq!(SimdLevel::from_name(l.name()), Some(l));
            assert_eq!(SimdLevel::from_name(&l.name().to_uppercase()), Some(l));
            assert_eq!(decode(encode(l)), l);
        }
        assert_eq!(SimdLevel::from_name("avx512f"), None);
    }

    #[test]
    fn best_is_available_and_highest() {
        let best = SimdLevel::best();
        assert!(best.is_available());
        assert_eq!(SimdLevel::available().last(), Some(best));
        assert!(
            SimdLevel::ALL
                .iter()
                .all(|l| !l.is_available() || *l <= best)
        );
    }

    #[test]
    fn unavailable_level_is_refused_with_a_message() {
        let missing = SimdLevel::ALL.into_iter().find(|l| !l.is_available());
        let missing = missing.expect("no target has every level");
        let before = simd_level();
        let err = set_simd_level(missing).unwrap_err();
        assert_eq!(err.requested, missing);
        assert_eq!(simd_level(), before);
        let msg = std::format!("{err}");
        assert!(msg.contains(missing.name()), "{msg}");
        assert!(msg.contains(SimdLevel::best().name()), "{msg}");
    }
}
