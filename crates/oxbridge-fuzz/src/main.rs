//! `oxbridge-fuzz [--seconds N] [TARGET...]`: mutation fuzzing of every decoder.
//!
//! `cargo fuzz` needs a nightly toolchain; this runs on stable. It has no
//! coverage guidance: it mutates the committed seeds in `fuzz/corpus/<target>/`
//! (bit flips, byte edits, insertions, deletions, splices, JSON and frame
//! tokens) and feeds each input to the decoder and everything behind it. A
//! panic is a crash: the input is written to `fuzz/crashes/` and the run fails.
#![forbid(unsafe_code)]

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use oxbridge_core::export::Arg;
use oxbridge_server::{frames, grpc, ipc, wire};
use prost::Message;

/// One decoder and what runs behind it.
struct Target {
    name: &'static str,
    run: fn(&[u8]),
}

fn ipc_json(data: &[u8]) {
    let _ = ipc::answer_request(data);
}

fn batch_frame(data: &[u8]) {
    let _ = frames::handle("fuzz", data);
    if data.len() >= frames::REQUEST_HEADER {
        let _ = frames::frame_len(&data[..frames::REQUEST_HEADER], 1 << 24);
    }
}

fn http_json(data: &[u8]) {
    if let Ok(fields) = wire::decode::<oxbridge_server::json_call::Fields<'_>>(data) {
        for f in oxbridge_server::library().functions {
            let _ = oxbridge_server::json_call::call(f, &fields);
        }
    }
}

fn grpc_messages(data: &[u8]) {
    if let Ok(req) = grpc::v1::BinaryRequest::decode(data) {
        let part = |z: Option<grpc::v1::Complex>| {
            z.map(|z| oxbridge_core::Complex::new(z.re.unwrap_or(0.0), z.im.unwrap_or(0.0)))
        };
        if let (Some(a), Some(b)) = (part(req.a), part(req.b)) {
            for f in oxbridge_core::CALCULATOR.functions {
                let _ = f.invoke(&[Arg::Complex(a), Arg::Complex(b)]);
            }
        }
    }
    if let Ok(req) = grpc::v1::BatchRequest::decode(data) {
        let op = u8::try_from(req.op).unwrap_or(u8::MAX);
        if let Ok(call) = frames::Call::v1(op, &req.a, &req.b, req.b_scalar, req.offset) {
            let _ = call.run();
        }
    }
    if let Ok(req) = grpc::v1::GreetRequest::decode(data) {
        let _ = oxbridge_core::greet_bytes(&req.greeting, &req.name);
    }
}

const TARGETS: &[Target] = &[
    Target {
        name: "ipc-json",
        run: ipc_json,
    },
    Target {
        name: "batch-frame",
        run: batch_frame,
    },
    Target {
        name: "http-json",
        run: http_json,
    },
    Target {
        name: "grpc",
        run: grpc_messages,
    },
];

const TOKENS: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b",",
    b":",
    b"\\u",
    b"\\ud800",
    b"1e999",
    b"-0.0",
    b"NaN",
    b"\"inf\"",
    b"\"nan\"",
    b"null",
    b"true",
    b"\"command\"",
    b"\"add\"",
    b"\"div\"",
    b"\"greet\"",
    b"OXB\x01",
    b"\xff\xff\xff\xff\xff\xff\xff\x7f",
    b"\x00\x00\x00\x00\x00\x00\x00\x00",
    b"\xff",
    b"\x80",
];

/// xorshift64*: small, fast, and reproducible from the seed it prints.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            usize::try_from(self.next() % n as u64).unwrap_or(0)
        }
    }
}

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut data = seeds[rng.below(seeds.len())].clone();
    for _ in 0..=rng.below(4) {
        let at = rng.below(data.len() + 1);
        match rng.below(7) {
            0 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] ^= 1 << rng.below(8);
            }
            1 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] = u8::try_from(rng.below(256)).unwrap_or(0);
            }
            2 => {
                let token = TOKENS[rng.below(TOKENS.len())];
                data.splice(at..at, token.iter().copied());
            }
            3 => {
                let end = (at + rng.below(16)).min(data.len());
                data.drain(at..end);
            }
            4 => {
                let end = (at + rng.below(64)).min(data.len());
                let copy = data[at..end].to_vec();
                data.splice(at..at, copy);
            }
            5 => {
                let other = &seeds[rng.below(seeds.len())];
                let from = rng.below(other.len() + 1);
                data.truncate(at);
                data.extend_from_slice(&other[from..]);
            }
            _ => {
                let n = rng.below(8);
                let bytes: Vec<u8> = (0..n)
                    .map(|_| u8::try_from(rng.below(256)).unwrap_or(0))
                    .collect();
                data.splice(at..at, bytes);
            }
        }
    }
    data.truncate(1 << 16);
    data
}

fn load_seeds(dir: &Path) -> Vec<Vec<u8>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    let mut seeds: Vec<Vec<u8>> = files.iter().filter_map(|f| std::fs::read(f).ok()).collect();
    seeds.push(Vec::new());
    seeds
}

fn fuzz(target: &Target, root: &Path, budget: Duration, seed: u64) -> Result<u64, PathBuf> {
    let seeds = load_seeds(&root.join("corpus").join(target.name));
    let mut rng = Rng(seed | 1);
    let started = Instant::now();
    let mut execs = 0_u64;
    // Every seed as is, then mutations until the time is up.
    let mut inputs = seeds.clone().into_iter();
    while started.elapsed() < budget || inputs.len() > 0 {
        let data = inputs.next().unwrap_or_else(|| mutate(&mut rng, &seeds));
        if catch_unwind(AssertUnwindSafe(|| (target.run)(&data))).is_err() {
            let mut hasher = DefaultHasher::new();
            data.hash(&mut hasher);
            let dir = root.join("crashes");
            let _ = std::fs::create_dir_all(&dir);
            let path = dir.join(format!("{}-{:016x}", target.name, hasher.finish()));
            let _ = std::fs::write(&path, &data);
            return Err(path);
        }
        execs += 1;
    }
    Ok(execs)
}

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut seconds = 2.0_f64;
    if let Some(i) = args.iter().position(|a| a == "--seconds") {
        seconds = args
            .get(i + 1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(seconds);
        args.drain(i..(i + 2).min(args.len()));
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let seed = std::env::var("OXBRIDGE_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_secs())
        });
    let chosen: Vec<&Target> = TARGETS
        .iter()
        .filter(|t| args.is_empty() || args.iter().any(|a| a == t.name))
        .collect();
    if chosen.is_empty() {
        let names: Vec<&str> = TARGETS.iter().map(|t| t.name).collect();
        eprintln!(
            "oxbridge-fuzz: unknown target; choose from {}",
            names.join(", ")
        );
        return ExitCode::FAILURE;
    }
    println!(
        "fuzzing {} target(s), {seconds} s each, seed {seed} (OXBRIDGE_FUZZ_SEED reproduces it)",
        chosen.len()
    );
    for target in chosen {
        match fuzz(target, &root, Duration::from_secs_f64(seconds), seed) {
            Ok(execs) => println!("{:<12} {execs:>9} inputs, no crash", target.name),
            Err(path) => {
                eprintln!("{}: CRASH, input saved to {}", target.name, path.display());
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
