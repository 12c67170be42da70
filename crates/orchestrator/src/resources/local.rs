//! The local runtime's measurements: every component replica runs on a tokio runtime of its
//! own whose threads carry its name (`backend-0`, `frontend`, `loadgen-0`; threads a component
//! starts itself are named `<tag>/...`), so the kernel's per-thread CPU time can be summed
//! per replica. Memory is the process's RSS (one process holds every component) and the
//! Prometheus child's own. Linux only: elsewhere a note says why there are no figures.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use super::procfs::{self, TICKS_PER_SECOND};
use super::{PROCESS, Round, Source, Usage};

/// Every resource gap starts so, which is how the report tells them from scrape gaps.
pub const GAP_PREFIX: &str = "resources: ";

/// Why there are no CPU and memory figures on an OS without /proc.
pub const NOT_LINUX_NOTE: &str = "CPU and memory per component are read from /proc, which only Linux has: this run has network figures only";

/// One replica whose threads are counted.
#[derive(Debug, Clone)]
struct Group {
    /// The thread name (at most 15 bytes: the kernel keeps no more).
    tag: String,
    component: String,
    instance: String,
    /// Cumulative CPU seconds of its threads, ended threads' last reading included.
    cpu: f64,
    /// The CPU cores it used over the last sampling interval.
    cores: Option<f64>,
    active: bool,
}

#[derive(Debug)]
struct State {
    groups: Vec<Group>,
    /// Each live thread's group and CPU ticks at the last read.
    seen: HashMap<u32, (usize, u64)>,
    /// Child processes measured whole (Prometheus): component, instance, pid.
    children: Vec<(String, String, u32)>,
    last_read: Option<Instant>,
    /// The last round's readings, for the resource page.
    last: Vec<Usage>,
}

/// A cheap, cloneable handle: the runtime registers replicas, the sampler reads.
#[derive(Debug, Clone)]
pub struct LocalResources {
    state: Arc<Mutex<State>>,
    proc_dir: PathBuf,
}

impl Default for LocalResources {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether `thread` is one of `tag`'s: the tag itself, or a thread it started.
fn belongs(thread: &str, tag: &str) -> bool {
    thread
        .strip_prefix(tag)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

impl LocalResources {
    pub fn new() -> Self {
        Self::at(Path::new("/proc/self"))
    }

    /// Reads the process at `proc_dir` (tests point it at a directory that is not there).
    pub fn at(proc_dir: &Path) -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                groups: Vec::new(),
                seen: HashMap::new(),
                children: Vec::new(),
                last_read: None,
                last: Vec::new(),
            })),
            proc_dir: proc_dir.to_owned(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts the threads named `tag` (and `tag/...`) as `instance` from now on.
    pub fn register(&self, tag: &str, component: &str, instance: &str) {
        let mut s = self.lock();
        s.groups.retain(|g| g.tag != tag);
        s.groups.push(Group {
            tag: tag.to_owned(),
            component: component.to_owned(),
            instance: instance.to_owned(),
            cpu: 0.0,
            cores: None,
            active: true,
        });
        // Indices moved: thread assignments are made again on the next read.
        s.seen.clear();
    }

    /// Stops reporting `instance` (its runtime is gone).
    pub fn unregister(&self, instance: &str) {
        for g in self
            .lock()
            .groups
            .iter_mut()
            .filter(|g| g.instance == instance)
        {
            g.active = false;
        }
    }

    /// Measures the child process `pid` whole, as `instance`.
    pub fn watch_process(&self, component: &str, instance: &str, pid: u32) {
        let mut s = self.lock();
        s.children.retain(|c| c.1 != instance);
        s.children
            .push((component.to_owned(), instance.to_owned(), pid));
    }

    /// The CPU cores `instance`'s threads used over the last sampling interval (`None`
    /// before two samples, or where /proc cannot be read). The autoscaler's `cpu` figure.
    pub fn cores_used(&self, instance: &str) -> Option<f64> {
        self.lock()
            .groups
            .iter()
            .find(|g| g.instance == instance && g.active)
            .and_then(|g| g.cores)
    }

    /// The readings of the last sampling round.
    pub fn last(&self) -> Vec<Usage> {
        self.lock().last.clone()
    }

    /// Where the figures come from, for the report.
    pub fn source() -> Source {
        let mut s = Source {
            cpu: "/proc/self/task/*/stat: the CPU time of each replica's named runtime threads; Prometheus: its process".into(),
            memory: "/proc/self/status VmRSS: the orchestrator process, which runs every component (row `process`); Prometheus: its own process".into(),
            network: "each component's own count of the bytes on its connections (backend, load generator)".into(),
            resolution: "10 ms of CPU time (clock ticks), sampled every second".into(),
            notes: Vec::new(),
        };
        if !cfg!(target_os = "linux") {
            s.notes.push(NOT_LINUX_NOTE.into());
        }
        s
    }

    /// One sampling round: every active replica's cumulative CPU seconds, the process's
    /// CPU and RSS, each child's. What cannot be read is a named gap, never an error.
    pub fn read(&self) -> Round {
        let mut round = Round::default();
        if !cfg!(target_os = "linux") {
            return round;
        }
        let threads = procfs::threads(&self.proc_dir);
        let now = Instant::now();
        let mut s = self.lock();
        let dt = s.last_read.map(|t| now.duration_since(t).as_secs_f64());
        s.last_read = Some(now);
        match threads {
            Ok(threads) => self.account(&mut s, &threads, dt),
            Err(e) => round.gaps.push(format!(
                "{GAP_PREFIX}cannot read {}: {e}",
                self.proc_dir.join("task").display()
            )),
        }
        for g in s.groups.iter().filter(|g| g.active) {
            round.usage.push(Usage {
                instance: g.instance.clone(),
                component: g.component.clone(),
                cpu_seconds: Some(g.cpu),
                ..Usage::default()
            });
        }
        let mut whole = |component: &str, instance: &str, dir: &Path| match procfs::process(dir) {
            Ok((cpu, rss)) => round.usage.push(Usage {
                instance: instance.to_owned(),
                component: component.to_owned(),
                cpu_seconds: Some(cpu),
                memory_bytes: Some(rss as f64),
                ..Usage::default()
            }),
            Err(e) => round.gaps.push(format!("{GAP_PREFIX}{instance}: {e}")),
        };
        whole(PROCESS, PROCESS, &self.proc_dir);
        let proc_root = self.proc_dir.parent().unwrap_or(Path::new("/proc"));
        for (component, instance, pid) in &s.children {
            whole(component, instance, &proc_root.join(pid.to_string()));
        }
        s.last = round.usage.clone();
        round
    }

    /// Adds each thread's CPU since the last read to its replica.
    fn account(&self, s: &mut State, threads: &[procfs::Thread], dt: Option<f64>) {
        let before: Vec<f64> = s.groups.iter().map(|g| g.cpu).collect();
        let mut seen = HashMap::with_capacity(threads.len());
        for t in threads {
            let group = match s.seen.get(&t.tid) {
                Some(&(g, _)) if s.groups.get(g).is_some_and(|g| belongs(&t.name, &g.tag)) => g,
                _ => match s.groups.iter().position(|g| belongs(&t.name, &g.tag)) {
                    Some(g) => g,
                    None => continue,
                },
            };
            // A thread seen for the first time: all its CPU time is new.
            let last = s
                .seen
                .get(&t.tid)
                .filter(|(g, _)| *g == group)
                .map_or(0, |&(_, ticks)| ticks);
            s.groups[group].cpu += t.ticks.saturating_sub(last) as f64 / TICKS_PER_SECOND;
            seen.insert(t.tid, (group, t.ticks));
        }
        s.seen = seen;
        for (g, before) in s.groups.iter_mut().zip(before) {
            g.cores = dt.filter(|dt| *dt > 0.0).map(|dt| (g.cpu - before) / dt);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_belongs_to_its_tag_and_the_threads_it_started() {
        assert!(belongs("backend-1", "backend-1"));
        assert!(belongs("backend-1/lane0", "backend-1"));
        assert!(!belongs("backend-10", "backend-1"));
        assert!(!belongs("backend", "backend-1"));
    }

    #[test]
    fn an_unreadable_proc_is_a_named_gap() {
        let r = LocalResources::at(Path::new("/nonexistent/proc/self"));
        r.register("backend-0", "backend", "backend-0");
        let round = r.read();
        if cfg!(target_os = "linux") {
            assert!(
                round.gaps.iter().any(|g| g.starts_with(GAP_PREFIX)
                    && g.contains("/nonexistent/proc/self/task")),
                "{:?}",
                round.gaps
            );
            assert!(round.gaps.iter().any(|g| g.contains("process")));
        }
        assert_eq!(r.cores_used("backend-0"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_busy_named_thread_is_counted_to_its_replica_and_an_idle_one_is_not() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let r = LocalResources::new();
        r.register("res-busy-0", "backend", "busy");
        r.register("res-idle-0", "backend", "idle");
        let stop = Arc::new(AtomicBool::new(false));
        let spawn = |name: &str, spin: bool| {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name(name.into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        if !spin {
                            std::thread::sleep(std::time::Duration::from_millis(5));
                        }
                        std::hint::spin_loop();
                    }
                })
                .unwrap()
        };
        let threads = [spawn("res-busy-0/w", true), spawn("res-idle-0", false)];
        r.read();
        // Until the busy thread has used 20 ticks of CPU (bounded: a loaded machine is slow).
        let started = Instant::now();
        let cpu = |round: &Round, i: &str| {
            round
                .usage
                .iter()
                .find(|u| u.instance == i)
                .and_then(|u| u.cpu_seconds)
                .unwrap()
        };
        let round = loop {
            std::thread::sleep(std::time::Duration::from_millis(50));
            let round = r.read();
            if cpu(&round, "busy") >= 0.2 || started.elapsed().as_secs() > 20 {
                break round;
            }
        };
        stop.store(true, Ordering::Relaxed);
        for t in threads {
            t.join().unwrap();
        }
        let (busy, idle) = (cpu(&round, "busy"), cpu(&round, "idle"));
        assert!(busy >= 0.2 && idle < busy / 4.0, "busy {busy} idle {idle}");
        assert!(r.cores_used("busy").is_some());
        let process = round.usage.iter().find(|u| u.instance == PROCESS).unwrap();
        // The kernel splits each task's runtime into user and system time from tick samples,
        // per thread and for the whole process separately, so the process's figure may trail
        // the sum of its threads' by a tick or two.
        let process_cpu = process.cpu_seconds.unwrap();
        assert!(
            process_cpu >= busy - 0.03,
            "process {process_cpu} busy {busy}"
        );
        assert!(process.memory_bytes.unwrap() > 0.0);
    }
}
