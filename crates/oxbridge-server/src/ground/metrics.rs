//! The server's metrics, one registry for every bridge, in the OpenMetrics
//! text format that Prometheus scrapes: `GET /metrics` on the HTTP port, or
//! on `--metrics ADDR` for a server without HTTP.
//!
//! - `oxbridge_calls_total{bridge, library, function, outcome}`: calls
//!   answered, by outcome (`ok`, an error kind such as `zero_division`, or
//!   `cancelled` when the client went away first);
//! - `oxbridge_call_seconds{bridge, library, function}`: their latency, a histogram;
//! - `oxbridge_calls_in_flight{bridge}`: calls being served now;
//! - `oxbridge_batch_bytes_total{bridge, direction}`: batch bytes received
//!   (`request`) and sent (`reply`).
//!
//! Every label value is one of a fixed set (the served libraries' names and
//! their function names, `batch`, a few paths, `other`; `library` is empty
//! for what is no library's), so no request can grow the registry.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::LazyLock;
use std::time::Instant;

use oxbridge_core::ErrorKind;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// The media type of [`text`].
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The function of a vectorized call, on every bridge.
pub const BATCH: &str = "batch";
/// What is not one of the served functions or known paths.
pub const OTHER: &str = "other";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    bridge: &'static str,
    library: &'static str,
    function: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TimeLabels {
    bridge: &'static str,
    library: &'static str,
    function: &'static str,
}

/// What a call is of: a served library's function (`library` its name), or
/// one of the fixed names (`library` empty).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Label {
    /// The library's name, or empty.
    pub library: &'static str,
    /// The function's name, or a fixed name.
    pub function: &'static str,
}

impl Label {
    /// A name that is no library's function.
    #[must_use]
    pub const fn fixed(function: &'static str) -> Self {
        Label {
            library: "",
            function,
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BridgeLabels {
    bridge: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BytesLabels {
    bridge: &'static str,
    direction: &'static str,
}

type Histograms = Family<TimeLabels, Histogram, fn() -> Histogram>;

struct Metrics {
    registry: Registry,
    calls: Family<CallLabels, Counter>,
    seconds: Histograms,
    in_flight: Family<BridgeLabels, Gauge>,
    batch_bytes: Family<BytesLabels, Counter>,
}

fn latency() -> Histogram {
    // 10 µs to 2.6 s, by factors of 4: a local call to a large batch.
    Histogram::new(exponential_buckets(1e-5, 4.0, 10))
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let mut registry = Registry::with_prefix("oxbridge");
    let calls = Family::<CallLabels, Counter>::default();
    let seconds: Histograms = Family::new_with_constructor(latency);
    let in_flight = Family::<BridgeLabels, Gauge>::default();
    let batch_bytes = Family::<BytesLabels, Counter>::default();
    registry.register("calls", "Calls answered, by outcome", calls.clone());
    registry.register("call_seconds", "Time to answer a call", seconds.clone());
    registry.register("calls_in_flight", "Calls being served", in_flight.clone());
    registry.register(
        "batch_bytes",
        "Batch bytes received (request) and sent (reply)",
        batch_bytes.clone(),
    );
    Metrics {
        registry,
        calls,
        seconds,
        in_flight,
        batch_bytes,
    }
});

/// Hashes the addresses of `&'static str` labels: a few multiplies, where
/// the families hash the labels' text (and take a lock) on every lookup.
#[derive(Default)]
struct AddressHasher(u64);

impl Hasher for AddressHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_usize(usize::from(b));
        }
    }
    fn write_usize(&mut self, n: usize) {
        self.0 = (self.0 ^ n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type ByAddress<V> = HashMap<[usize; 8], V, BuildHasherDefault<AddressHasher>>;

thread_local! {
    // Per thread, the metrics of each label set already seen, by the
    // labels' addresses. Bounded: every label is one of a fixed set of
    // `&'static str`s.
    static ANSWERED: RefCell<ByAddress<(Counter, Histogram)>> = RefCell::default();
    static IN_FLIGHT: RefCell<ByAddress<Gauge>> = RefCell::default();
}

/// Where a label's text is: its address and length (one literal may be
/// the start of another).
fn address(label: &'static str) -> [usize; 2] {
    [label.as_ptr() as usize, label.len()]
}

fn key(labels: [&'static str; 4]) -> [usize; 8] {
    let [a, b, c, d] = labels.map(address);
    [a[0], a[1], b[0], b[1], c[0], c[1], d[0], d[1]]
}

/// One call being served: in flight until dropped, then counted by its
/// outcome (`cancelled` unless [`Call::finish`] said otherwise), with its time.
#[must_use = "a call is counted when it is dropped"]
pub struct Call {
    bridge: &'static str,
    label: Label,
    outcome: &'static str,
    started: Instant,
    in_flight: Gauge,
}

impl Call {
    /// A call on `bridge` starts, its function not yet known.
    pub fn start(bridge: &'static str) -> Self {
        let in_flight = IN_FLIGHT.with_borrow_mut(|cache| {
            cache
                .entry(key([bridge, "", "", ""]))
                .or_insert_with(|| {
                    METRICS
                        .in_flight
                        .get_or_create(&BridgeLabels { bridge })
                        .clone()
                })
                .clone()
        });
        in_flight.inc();
        Call {
            bridge,
            label: Label::fixed(OTHER),
            outcome: "cancelled",
            started: Instant::now(),
            in_flight,
        }
    }

    /// The call is of `label` (from [`function`], or [`Label::fixed`]).
    pub fn function(&mut self, label: Label) {
        self.label = label;
    }

    /// The call is answered: `error` is its failure, if any.
    pub fn finish(mut self, error: Option<ErrorKind>) {
        self.outcome = error.map_or("ok", ErrorKind::name);
    }

    /// The call is answered with a failure no error kind names (a
    /// framework's own refusal).
    pub fn finish_other_error(mut self) {
        self.outcome = "error";
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        self.in_flight.dec();
        let (bridge, outcome) = (self.bridge, self.outcome);
        let Label { library, function } = self.label;
        let elapsed = self.started.elapsed().as_secs_f64();
        // Text of the same label at two addresses is two keys here, one
        // series in the registry.
        ANSWERED.with_borrow_mut(|cache| {
            let (calls, seconds) = cache
                .entry(key([bridge, library, function, outcome]))
                .or_insert_with(|| {
                    let calls = METRICS.calls.get_or_create(&CallLabels {
                        bridge,
                        library,
                        function,
                        outcome,
                    });
                    let seconds = METRICS.seconds.get_or_create(&TimeLabels {
                        bridge,
                        library,
                        function,
                    });
                    (calls.clone(), seconds.clone())
                });
            calls.inc();
            seconds.observe(elapsed);
        });
    }
}

/// Counts a batch's bytes: `request` received, `reply` sent.
pub fn batch_bytes(bridge: &'static str, request: usize, reply: usize) {
    for (direction, n) in [("request", request), ("reply", reply)] {
        METRICS
            .batch_bytes
            .get_or_create(&BytesLabels { bridge, direction })
            .inc_by(n as u64);
    }
}

/// The label of a call to `name`: a served function (`library.function`,
/// `library/function` as an HTTP path has it, or a bare name of the first
/// library's), one of the fixed names (`batch`, `health`, `healthz`,
/// `metrics`, `version`, `openapi.json`), or `other`.
#[must_use]
pub fn function(name: &str) -> Label {
    let found = match name.split_once(['.', '/']) {
        Some((library, function)) => crate::ground::library::resolve_in(Some(library), function),
        None => crate::ground::library::resolve_in(None, name),
    };
    if let Ok((library, f)) = found {
        return Label {
            library: library.name,
            function: f.name,
        };
    }
    const FIXED: [&str; 7] = [
        BATCH,
        "catalogue",
        "health",
        "healthz",
        "metrics",
        "version",
        "openapi.json",
    ];
    Label::fixed(FIXED.into_iter().find(|&n| n == name).unwrap_or(OTHER))
}

/// Every metric, as OpenMetrics text.
#[must_use]
pub fn text() -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, &METRICS.registry);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_counted_by_outcome_and_timed() {
        // A bridge of its own: the registry is shared by every test in this process.
        const BRIDGE: &str = "metrics-unit";
        let mut ok = Call::start(BRIDGE);
        ok.function(function("add"));
        ok.finish(None);
        let mut failed = Call::start(BRIDGE);
        failed.function(function("div"));
        failed.finish(Some(ErrorKind::ZeroDivision));
        drop(Call::start(BRIDGE));
        batch_bytes(BRIDGE, 48, 16);
        let text = text();
        for line in [
            r#"oxbridge_calls_total{bridge="metrics-unit",library="calculator",function="add",outcome="ok"} 1"#,
            r#"oxbridge_calls_total{bridge="metrics-unit",library="calculator",function="div",outcome="zero_division"} 1"#,
            r#"oxbridge_calls_total{bridge="metrics-unit",library="",function="other",outcome="cancelled"} 1"#,
            r#"oxbridge_call_seconds_count{bridge="metrics-unit",library="calculator",function="add"} 1"#,
            r#"oxbridge_calls_in_flight{bridge="metrics-unit"} 0"#,
            r#"oxbridge_batch_bytes_total{bridge="metrics-unit",direction="request"} 48"#,
        ] {
            assert!(text.contains(line), "{line} not in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn unknown_names_share_one_label() {
        let add = Label {
            library: "calculator",
            function: "add",
        };
        assert_eq!(function("add"), add);
        assert_eq!(function("calculator.add"), add);
        assert_eq!(function("calculator/add"), add);
        assert_eq!(function("batch"), Label::fixed("batch"));
        assert_eq!(function("no-such-function-x"), Label::fixed(OTHER));
        assert_eq!(function("nolibrary/add"), Label::fixed(OTHER));
        assert_eq!(function(""), Label::fixed(OTHER));
    }
}
