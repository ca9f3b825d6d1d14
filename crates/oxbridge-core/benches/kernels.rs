//! The core's kernels, scalar and vectorized, with nothing around them.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use oxbridge_core::export::{Arg, OutArray};
use oxbridge_core::{Complex, CALCULATOR};

const OPS: [&str; 4] = ["add", "sub", "mul", "div"];

fn scalar(c: &mut Criterion) {
    let (a, b) = (Complex::new(1.0, 3.0), Complex::new(-0.0, -5.0));
    let mut group = c.benchmark_group("scalar");
    for name in OPS {
        let f = CALCULATOR.get(name).expect("exported");
        group.bench_function(name, |bench| {
            bench.iter(|| (f.call)(&[Arg::Complex(black_box(a)), Arg::Complex(black_box(b))]))
        });
    }
    group.bench_function("greet", |bench| {
        bench.iter(|| oxbridge_core::greet(black_box("Aloha"), black_box("amigo")))
    });
    group.finish();
}

fn batch(c: &mut Criterion) {
    let mut group = c.benchmark_group("many");
    for n in [1_000_usize, 100_000, 1_000_000] {
        #[allow(clippy::cast_precision_loss)]
        let a: Vec<Complex> = (0..n).map(|i| Complex::new(i as f64 + 1.0, 0.5)).collect();
        let b = a.clone();
        let mut out = vec![Complex::default(); n];
        group.throughput(Throughput::Elements(n as u64));
        for name in ["add", "mul", "div"] {
            let f = CALCULATOR.get(name).expect("exported");
            group.bench_with_input(BenchmarkId::new(name, n), &n, |bench, _| {
                bench.iter(|| {
                    let args = [Arg::ComplexArray(black_box(&a)), Arg::ComplexArray(&b)];
                    f.invoke_many(&args, &mut OutArray::Complex(&mut out))
                });
            });
        }
    }
    group.finish();
}

criterion_group!(benches, scalar, batch);
criterion_main!(benches);
