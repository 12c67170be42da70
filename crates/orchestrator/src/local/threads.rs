//! Each component replica on a tokio runtime of its own, its threads named after it, so
//! [`crate::resources::local`] can sum the kernel's per-thread CPU time per replica. Sharing
//! the orchestrator's runtime, every replica's work would run on the same anonymous workers.

use std::future::Future;

use tokio::runtime::{Builder, Runtime};
use tokio::task::JoinHandle;

/// The kernel keeps 15 bytes of a thread's name.
pub const MAX_TAG: usize = 15;

/// A replica's runtime; dropping it stops whatever still runs on it without blocking (the
/// timeline's runtime must never wait on it).
#[derive(Debug)]
pub struct ComponentRuntime {
    rt: Option<Runtime>,
}

impl ComponentRuntime {
    /// A multi-threaded runtime of `workers` threads, they and its blocking threads named
    /// `tag` (cut to [`MAX_TAG`] bytes).
    pub fn new(tag: &str, workers: usize) -> std::io::Result<Self> {
        let rt = Builder::new_multi_thread()
            .worker_threads(workers.max(1))
            .thread_name(thread_tag(tag))
            .enable_all()
            .build()?;
        Ok(Self { rt: Some(rt) })
    }

    /// Runs `fut` on this runtime; the handle can be awaited from any runtime.
    pub fn spawn<F>(&self, fut: F) -> Option<JoinHandle<F::Output>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.rt.as_ref().map(|rt| rt.spawn(fut))
    }
}

impl Drop for ComponentRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// `tag` cut to what the kernel keeps, on a character boundary.
pub fn thread_tag(tag: &str) -> String {
    let mut end = tag.len().min(MAX_TAG);
    while !tag.is_char_boundary(end) {
        end -= 1;
    }
    tag[..end].to_owned()
}

/// Worker threads for a replica: as many as the machine has cores, at most four (the
/// replicas of one stack share those cores anyway).
pub fn workers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().min(4))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_future_runs_on_threads_named_after_its_replica() {
        let rt = ComponentRuntime::new("backend-7", 1).unwrap();
        let name = rt
            .spawn(async { std::thread::current().name().map(str::to_owned) })
            .unwrap()
            .await
            .unwrap();
        assert_eq!(name.as_deref(), Some("backend-7"));
        // Dropped inside an async context: must not panic or block.
        drop(rt);
    }

    #[test]
    fn tags_are_cut_to_what_the_kernel_keeps() {
        assert_eq!(thread_tag("backend-0"), "backend-0");
        assert_eq!(thread_tag("a-very-long-replica-name"), "a-very-long-rep");
        assert_eq!(thread_tag("ééééééééé").len(), 14);
    }
}
