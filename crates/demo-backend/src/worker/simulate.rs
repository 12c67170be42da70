//! The bounded simulated work of one message: `--work-memory` bytes allocated and touched
//! (so they are resident, not just reserved), held while `--work-cpu` of CPU time is burnt,
//! on the blocking pool so the runtime's threads keep serving /metrics and Redis.

use std::hint::black_box;
use std::time::{Duration, Instant};

/// Bytes between two touched bytes: one per page makes the whole buffer resident.
const PAGE: usize = 4096;

/// Does the work of one message; returns when it is done.
pub(crate) async fn work(cpu: Duration, memory: usize) {
    if cpu.is_zero() && memory == 0 {
        return;
    }
    let done = tokio::task::spawn_blocking(move || burn(cpu, memory)).await;
    if let Err(e) = done {
        tracing::error!(error = %e, "simulated work failed");
    }
}

fn burn(cpu: Duration, memory: usize) -> u64 {
    let mut held = vec![0u8; memory];
    for i in (0..held.len()).step_by(PAGE) {
        held[i] = 1;
    }
    let start = Instant::now();
    let mut x: u64 = held.len() as u64;
    while start.elapsed() < cpu {
        for _ in 0..1000 {
            x = black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
        }
    }
    black_box(&held);
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_work_takes_its_cpu_time() {
        let start = Instant::now();
        work(Duration::from_millis(30), 1 << 20).await;
        assert!(start.elapsed() >= Duration::from_millis(30));
    }
}
