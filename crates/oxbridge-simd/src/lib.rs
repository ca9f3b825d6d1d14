//! Runs oxbridge's batch kernels compiled for the widest vector instructions
//! the CPU has, chosen at run time, so that one build (a wheel made for any
//! x86-64) multiplies a thousand complex numbers as fast as numpy, whose loops
//! dispatch the same way.
//!
//! The kernel is a closure: [`widest`] calls it from a copy of itself compiled
//! with AVX-512 or AVX2 enabled, the closure is inlined there, and its loops
//! are vectorized for those registers. Rust never fuses, reorders or
//! approximates floating-point operations, whatever the target features, so
//! every path gives bit-for-bit the same results: only the vector width
//! changes.
//!
//! Calling a function compiled for instructions the CPU lacks is undefined
//! behaviour, hence `unsafe`: each call is guarded by the run-time check of
//! those very instructions (which also asks the OS whether it saves their
//! registers).

use std::sync::OnceLock;

/// The environment variable that caps the level [`widest`] uses: `baseline`,
/// `avx2` or `avx512f` (read once, at the first kernel; any other value is
/// ignored). For comparing levels on one machine, or ruling one out.
pub const ENV: &str = "OXBRIDGE_SIMD";

/// The instruction sets [`widest`] picks from, narrowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// The target's baseline (SSE2 on x86-64, or any other architecture).
    Baseline,
    /// 256-bit vectors (`avx2`).
    Avx2,
    /// 512-bit vectors (`avx512f`).
    Avx512,
}

impl Level {
    /// The name of the instruction set, as `is_x86_feature_detected!` spells it.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Level::Avx512 => "avx512f",
            Level::Avx2 => "avx2",
            Level::Baseline => "baseline",
        }
    }

    /// The level named `name` (as [`Level::name`] spells it).
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        [Level::Avx512, Level::Avx2, Level::Baseline]
            .into_iter()
            .find(|l| l.name() == name.trim())
    }
}

/// The widest instruction set this CPU (and its OS) supports.
#[must_use]
pub fn detected() -> Level {
    #[cfg(target_arch = "x86_64")]
    {
        // std caches the answer: each check is one relaxed load.
        if std::arch::is_x86_feature_detected!("avx512f") {
            return Level::Avx512;
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            return Level::Avx2;
        }
    }
    Level::Baseline
}

/// The level [`widest`] uses: the [`detected`] one, capped by [`ENV`]'s.
#[must_use]
pub fn level() -> Level {
    static LEVEL: OnceLock<Level> = OnceLock::new();
    *LEVEL.get_or_init(|| capped(detected(), std::env::var(ENV).ok().as_deref()))
}

/// `found`, capped by the level named `cap` (unless it names none).
#[must_use]
pub fn capped(found: Level, cap: Option<&str>) -> Level {
    cap.and_then(Level::parse)
        .map_or(found, |cap| cap.min(found))
}

/// Floats where a fused, reordered or approximated operation shows in the
/// bits: huge, tiny, subnormal, signed zeros, infinities, NaN. Every
/// vectorized kernel's tests run over them.
pub const TELLING: [f64; 19] = [
    0.0,
    -0.0,
    1.0,
    -1.0 / 3.0,
    0.1,
    1e308,
    -1e308,
    1e-308,
    5e-324,
    -5e-324,
    f64::MAX,
    f64::MIN_POSITIVE,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NAN,
    f64::EPSILON,
    1.0 + f64::EPSILON,
    1e154,
    -1e-154,
];

/// `f()`, compiled for the widest instruction set this CPU has.
#[inline]
pub fn widest<R>(f: impl FnOnce() -> R) -> R {
    at(level(), f)
}

/// `f()`, compiled for `level` where the CPU has it, else for the baseline.
#[inline]
pub fn at<R>(level: Level, f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    match level {
        Level::Avx512 if std::arch::is_x86_feature_detected!("avx512f") => {
            // SAFETY: the CPU and the OS support AVX-512F, checked just above.
            return unsafe { x86::avx512(f) };
        }
        Level::Avx2 if std::arch::is_x86_feature_detected!("avx2") => {
            // SAFETY: the CPU and the OS support AVX2, checked just above.
            return unsafe { x86::avx2(f) };
        }
        _ => {}
    }
    let _ = level;
    f()
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    /// `f()` with AVX-512F enabled.
    ///
    /// # Safety
    /// The CPU and the OS must support AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub(crate) unsafe fn avx512<R>(f: impl FnOnce() -> R) -> R {
        f()
    }

    /// `f()` with AVX2 enabled.
    ///
    /// # Safety
    /// The CPU and the OS must support AVX2.
    #[target_feature(enable = "avx2")]
    pub(crate) unsafe fn avx2<R>(f: impl FnOnce() -> R) -> R {
        f()
    }
}

#[cfg(test)]
mod tests;
