//! Each server's request handling, with no socket: the HTTP router called as
//! a service, an IPC request answered, a batch frame decoded and run.
#![allow(missing_docs)]

use std::hint::black_box;

use axum::body::Body;
use axum::http::Request;
use criterion::{criterion_group, criterion_main, Criterion};
use oxbridge_server::codec::frames;
use oxbridge_server::{http, ipc, Limits};
use tower::ServiceExt;

fn http_handlers(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let app = http::app(&Limits::default());
    c.bench_function("http POST /add", |bench| {
        bench.iter(|| {
            let request = Request::post("/add")
                .body(Body::from(r#"{"a":[1.0,3.0],"b":[-0.0,-5.0]}"#))
                .expect("request");
            runtime
                .block_on(app.clone().oneshot(request))
                .expect("response")
        });
    });
}

fn ipc_handler(c: &mut Criterion) {
    let limits = oxbridge_server::ground::config::Limits::default();
    c.bench_function("ipc add request", |bench| {
        bench.iter(|| {
            ipc::answer_request(
                black_box(br#"{"command":"add","a":[1.0,3.0],"b":[-0.0,-5.0]}"#),
                &limits,
            )
        });
    });
}

fn batch_frames(c: &mut Criterion) {
    let n = 100_000_u64;
    let mut frame = b"OXB\x01".to_vec();
    frame.extend_from_slice(&[2, 0, 0, 0]);
    for word in [0, n, n] {
        frame.extend_from_slice(&word.to_le_bytes());
    }
    frame.resize(frame.len() + 32 * usize::try_from(n).expect("fits"), 0x3f);
    c.bench_function("batch frame mul 1e5", |bench| {
        bench.iter(|| frames::handle("bench", black_box(&frame)))
    });
}

criterion_group!(benches, http_handlers, ipc_handler, batch_frames);
criterion_main!(benches);
