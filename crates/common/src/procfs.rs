//! Reading CPU time and memory from Linux's /proc: per thread (`/proc/self/task/<tid>/stat`
//! and `comm`) and per process (`/proc/<pid>/stat`, `status`); the orchestrator's local
//! runtime and the backend's own `/api/stats` both read it. By hand rather than with a
//! crate: three fields of two files, and the workspace forbids the `unsafe` a `sysconf`
//! call would need.

use std::path::Path;

/// Clock ticks per second of the times in `stat`. The kernel reports them in USER_HZ,
/// which is 100 on every Linux ABI (the value `sysconf(_SC_CLK_TCK)` returns).
pub const TICKS_PER_SECOND: f64 = 100.0;

/// User plus system CPU time, in clock ticks, of one `stat` line: the fields after the
/// command name, which is in parentheses and may itself hold spaces and parentheses.
pub fn cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    // After the name: state is field 3 of `proc(5)`; utime and stime are 14 and 15.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// The resident set size in bytes from a `status` file (`VmRSS:  1234 kB`).
pub fn rss_bytes(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// One thread of this process: its id, name and CPU ticks so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thread {
    pub tid: u32,
    pub name: String,
    pub ticks: u64,
}

/// Every thread of `proc_dir`'s process (`/proc/self`); threads that end while they are
/// read are left out.
pub fn threads(proc_dir: &Path) -> std::io::Result<Vec<Thread>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(proc_dir.join("task"))? {
        let Ok(entry) = entry else { continue };
        let Some(tid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        let dir = entry.path();
        let (Ok(name), Ok(stat)) = (
            std::fs::read_to_string(dir.join("comm")),
            std::fs::read_to_string(dir.join("stat")),
        ) else {
            continue;
        };
        if let Some(ticks) = cpu_ticks(&stat) {
            out.push(Thread {
                tid,
                name: name.trim_end().to_owned(),
                ticks,
            });
        }
    }
    Ok(out)
}

/// CPU seconds (all threads, ended ones included) and RSS bytes of the process at `dir`.
pub fn process(dir: &Path) -> Result<(f64, u64), String> {
    let read = |file: &str| {
        std::fs::read_to_string(dir.join(file))
            .map_err(|e| format!("cannot read {}: {e}", dir.join(file).display()))
    };
    let ticks = cpu_ticks(&read("stat")?)
        .ok_or_else(|| format!("{}/stat has no CPU times", dir.display()))?;
    let rss = rss_bytes(&read("status")?)
        .ok_or_else(|| format!("{}/status has no VmRSS line", dir.display()))?;
    Ok((ticks as f64 / TICKS_PER_SECOND, rss))
}

/// Whose CPU a component counts as its own: its named threads when it runs inside a bigger
/// process (the orchestrator's local runtime names each replica's threads), else the
/// whole process (a container holds nothing else).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Process,
    /// Threads named so, or `<name>/...` (threads they started).
    Threads(String),
}

impl Scope {
    /// The scope of the calling thread: a name of its own (not `main`, not tokio's or a
    /// test harness's default) marks a replica inside a bigger process.
    pub fn of_current_thread() -> Self {
        match std::thread::current().name() {
            Some(n) if n != "main" && !n.starts_with("tokio-") && !n.contains("::") => {
                Self::Threads(n.to_owned())
            }
            _ => Self::Process,
        }
    }

    /// Whether the thread named `thread` is one of this scope's.
    pub fn holds(&self, thread: &str) -> bool {
        match self {
            Self::Process => true,
            Self::Threads(tag) => thread
                .strip_prefix(tag.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/')),
        }
    }
}

/// CPU seconds of `scope` in this process so far (live threads only for a thread scope),
/// and its resident memory when the scope is the whole process (threads share theirs).
/// `None`s where /proc cannot be read (not Linux).
pub fn own_usage(scope: &Scope) -> (Option<f64>, Option<f64>) {
    let me = Path::new("/proc/self");
    match scope {
        Scope::Process => match process(me) {
            Ok((cpu, rss)) => (Some(cpu), Some(rss as f64)),
            Err(_) => (None, None),
        },
        Scope::Threads(_) => {
            let cpu = threads(me).ok().map(|ts| {
                ts.iter()
                    .filter(|t| scope.holds(&t.name))
                    .map(|t| t.ticks as f64 / TICKS_PER_SECOND)
                    .sum()
            });
            (cpu, None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_skip_a_name_with_spaces_and_parentheses() {
        let stat =
            "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 2000 0 0 0 150 25 0 0 20 0 9 0 100 1000 200";
        assert_eq!(cpu_ticks(stat), Some(175));
        assert_eq!(cpu_ticks("garbage"), None);
        assert_eq!(cpu_ticks("1 (x) S 1 2"), None);
    }

    #[test]
    fn rss_is_read_in_bytes() {
        let status = "Name:\tx\nVmPeak:\t  100 kB\nVmRSS:\t    2048 kB\nThreads:\t3\n";
        assert_eq!(rss_bytes(status), Some(2048 * 1024));
        assert_eq!(rss_bytes("Name: x\n"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_and_its_named_threads_are_seen() {
        let name = "procfs-test-1";
        let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
        let t = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                // The new thread names itself once it runs: only then is it in /proc.
                let _ = ready_tx.send(());
                let _ = stop_rx.recv();
            })
            .unwrap();
        ready_rx.recv().unwrap();
        let threads = threads(Path::new("/proc/self")).unwrap();
        assert!(threads.iter().any(|t| t.name == name), "{threads:?}");
        let (cpu, rss) = process(Path::new("/proc/self")).unwrap();
        assert!(cpu >= 0.0 && rss > 1024 * 1024, "{cpu} {rss}");
        stop_tx.send(()).unwrap();
        t.join().unwrap();
    }

    #[test]
    fn a_scope_holds_its_threads_and_those_they_started() {
        let s = Scope::Threads("backend-1".into());
        assert!(s.holds("backend-1") && s.holds("backend-1/lane0"));
        assert!(!s.holds("backend-10") && !s.holds("backend"));
        assert!(Scope::Process.holds("anything"));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_named_thread_measures_its_own_cpu_and_a_process_its_memory() {
        let scope = std::thread::Builder::new()
            .name("own-usage-1".into())
            .spawn(|| {
                let scope = Scope::of_current_thread();
                // Some CPU of its own: 20 ms spinning, at least two clock ticks.
                let start = std::time::Instant::now();
                while start.elapsed() < std::time::Duration::from_millis(20) {
                    std::hint::spin_loop();
                }
                (scope.clone(), own_usage(&scope))
            })
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(scope.0, Scope::Threads("own-usage-1".into()));
        let (cpu, memory) = scope.1;
        assert!(cpu.is_some_and(|c| c >= 0.0), "{cpu:?}");
        assert_eq!(memory, None, "threads share the process's memory");
        let (cpu, memory) = own_usage(&Scope::Process);
        assert!(cpu.is_some() && memory.is_some_and(|m| m > 1_048_576.0));
    }
}
