//! Every level gives the baseline's results bit for bit, on the values where
//! a fused or reordered operation would show ([`TELLING`]).

use super::{at, capped, detected, level, widest, Level, TELLING};

const LEVELS: [Level; 3] = [Level::Avx512, Level::Avx2, Level::Baseline];

fn values() -> Vec<f64> {
    let mut v = TELLING.to_vec();
    #[allow(clippy::cast_precision_loss)]
    v.extend((1..200).map(|i| (i as f64).sqrt() * if i % 2 == 0 { 1e154 } else { -1e-154 }));
    v
}

/// `(a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re)` for every pair:
/// the complex product, where a fused multiply-add would change the bits.
fn products(a: &[(f64, f64)], b: &[(f64, f64)]) -> Vec<(f64, f64)> {
    a.iter()
        .zip(b)
        .map(|(a, b)| (a.0 * b.0 - a.1 * b.1, a.0 * b.1 + a.1 * b.0))
        .collect()
}

#[test]
fn every_level_gives_the_baselines_bits() {
    let v = values();
    let pairs: Vec<(f64, f64)> = v
        .iter()
        .flat_map(|&x| v.iter().map(move |&y| (x, y)))
        .collect();
    let shifted: Vec<(f64, f64)> = pairs.iter().skip(7).chain(&pairs[..7]).copied().collect();
    // One element at a time, through a black box: no vectors at all.
    let want: Vec<(f64, f64)> = pairs
        .iter()
        .zip(&shifted)
        .map(|(a, b)| std::hint::black_box(products(&[*a], &[*b]))[0])
        .collect();
    let bits = |r: &[(f64, f64)]| -> Vec<(u64, u64)> {
        // A NaN's sign and payload are not part of the contract.
        let canon = |x: f64| {
            if x.is_nan() {
                f64::NAN.to_bits()
            } else {
                x.to_bits()
            }
        };
        r.iter().map(|(re, im)| (canon(*re), canon(*im))).collect()
    };
    for l in LEVELS {
        let got = at(l, || products(&pairs, &shifted));
        assert_eq!(bits(&got), bits(&want), "{l:?}");
    }
    assert_eq!(bits(&widest(|| products(&pairs, &shifted))), bits(&want));
}

#[test]
fn the_level_is_one_this_cpu_has() {
    let l = detected();
    #[cfg(target_arch = "x86_64")]
    assert_eq!(
        l != Level::Baseline,
        std::arch::is_x86_feature_detected!("avx2"),
        "{}",
        l.name()
    );
    assert!(level() <= l);
    assert_eq!(widest(|| 6 * 7), 42);
    assert_eq!(at(Level::Baseline, || "called"), "called");
}

#[test]
fn the_environment_caps_the_level_and_never_raises_it() {
    for found in LEVELS {
        assert_eq!(capped(found, None), found);
        assert_eq!(capped(found, Some("baseline")), Level::Baseline);
        assert_eq!(capped(found, Some(" avx2\n")), found.min(Level::Avx2));
        assert_eq!(capped(found, Some("avx512f")), found);
        assert_eq!(capped(found, Some("sse9")), found);
    }
    for l in LEVELS {
        assert_eq!(Level::parse(l.name()), Some(l));
    }
}
