//! Logs that cannot flood: a WARN that a client can trigger at will (a
//! refusal, a limit hit, a failing accept) is written at most once per
//! interval per kind, and that line says how many like it were left out.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

/// At most one line per kind in this interval.
const INTERVAL: Duration = Duration::from_secs(1);

static LAST: LazyLock<Mutex<HashMap<&'static str, (Instant, u64)>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Whether a line of `kind` may be written now: `Some(n)` with the number of
/// lines of that kind left out since the last one written, or `None` to
/// leave this one out (it is counted).
pub fn admit(kind: &'static str) -> Option<u64> {
    admit_at(kind, Instant::now())
}

fn admit_at(kind: &'static str, now: Instant) -> Option<u64> {
    let Ok(mut last) = LAST.lock() else {
        return Some(0); // a poisoned lock must not silence the log
    };
    match last.get_mut(kind) {
        Some((at, left_out)) if now.duration_since(*at) < INTERVAL => {
            *left_out += 1;
            None
        }
        Some((at, left_out)) => {
            let n = *left_out;
            (*at, *left_out) = (now, 0);
            Some(n)
        }
        None => {
            last.insert(kind, (now, 0));
            Some(0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_interval_and_the_count_of_the_rest() {
        let start = Instant::now();
        assert_eq!(admit_at("test-kind", start), Some(0));
        for i in 1..=1000 {
            assert_eq!(
                admit_at("test-kind", start + Duration::from_micros(i)),
                None
            );
        }
        assert_eq!(admit_at("other-kind", start), Some(0));
        assert_eq!(admit_at("test-kind", start + INTERVAL), Some(1000));
        assert_eq!(admit_at("test-kind", start + INTERVAL), None);
    }
}
