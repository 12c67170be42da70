//! The local runtime's port plan: consecutive loopback ports from `--port-base`.

use std::net::SocketAddr;

/// The first port of the default plan.
pub const DEFAULT_PORT_BASE: u16 = 18080;

/// How many backend replicas the plan reserves ports for.
pub const MAX_BACKEND_REPLICAS: u16 = 16;

/// How many load plans (one load generator each) the plan reserves ports for.
pub const MAX_LOAD_PLANS: u16 = 8;

/// Ports one stack's plan spans: with `iterations`, copy `i` (0-based) starts `i` blocks
/// above `--port-base`.
pub const BLOCK: u16 = 4 + MAX_BACKEND_REPLICAS + MAX_LOAD_PLANS - 1;

/// The port base of each of `count` copies of the stack from `base`, or why they do not fit
/// below 65536 (naming both knobs).
pub fn copy_bases(base: u16, count: u32) -> Result<Vec<u16>, String> {
    let block = u32::from(BLOCK);
    let last = u64::from(base) + u64::from(count) * u64::from(block) - 1;
    if count == 0 || last > u64::from(u16::MAX) {
        let most = (u32::from(u16::MAX) + 1 - u32::from(base)) / block;
        return Err(format!(
            "iterations = {count} with --port-base {base} needs the local ports {base}..={last}, above 65535 (each copy of the stack takes a block of {BLOCK}); lower --port-base (at most {}) or set iterations to at most {most}",
            (u32::from(u16::MAX) + 1).saturating_sub(count.saturating_mul(block)),
        ));
    }
    Ok((0..count)
        .filter_map(|i| u16::try_from(u32::from(base) + i * block).ok())
        .collect())
}

/// Which port each local listener uses: base+0 frontend, +1 backend balancer (the local
/// "Service"), +2 the first load plan's loadgen metrics, +3 Prometheus, +4.. backend
/// replicas, then the other load plans' loadgen metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortPlan {
    pub base: u16,
}

impl PortPlan {
    pub const fn new(base: u16) -> Self {
        Self { base }
    }
    pub fn frontend(self) -> u16 {
        self.base
    }
    pub fn balancer(self) -> u16 {
        self.base + 1
    }
    /// The `/metrics` port of load plan `plan` (0-based) of the scenario.
    pub fn loadgen_metrics(self, plan: u16) -> u16 {
        match plan {
            // Where the only load generator always was: scripts and tests know base+2.
            0 => self.base + 2,
            i => self.base + 4 + MAX_BACKEND_REPLICAS + i - 1,
        }
    }
    pub fn prometheus(self) -> u16 {
        self.base + 3
    }
    pub fn backend(self, replica: u16) -> u16 {
        self.base + 4 + replica
    }
    /// The highest port the plan may use; a base that overflows is a flag error.
    pub fn last(self) -> Option<u16> {
        self.base
            .checked_add(4 + MAX_BACKEND_REPLICAS + MAX_LOAD_PLANS - 2)
    }
    pub fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }
    /// A base that moves the whole plan past `port`, for the "port in use" message.
    pub fn suggest_after(port: u16) -> u16 {
        port.saturating_add(100)
    }
}

/// Binds `port` on loopback for `what`; a taken port is the error that names it and
/// `--port-base`.
pub async fn bind(port: u16, what: &str) -> crate::runtime::Result<tokio::net::TcpListener> {
    use crate::runtime::RuntimeError;
    match tokio::net::TcpListener::bind(PortPlan::addr(port)).await {
        Ok(l) => Ok(l),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(RuntimeError::PortInUse {
            port,
            what: what.to_owned(),
            suggest: PortPlan::suggest_after(port),
        }),
        Err(e) => Err(RuntimeError::Other(format!(
            "cannot listen on 127.0.0.1:{port} ({what}): {e}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_taken_port_is_named_with_the_fix() {
        let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = taken.local_addr().unwrap().port();
        let err = bind(port, "frontend").await.unwrap_err().to_string();
        assert!(err.contains(&format!("port {port} (frontend)")), "{err}");
        assert!(err.contains("--port-base"), "{err}");
    }

    #[test]
    fn the_plan_uses_distinct_ports() {
        let p = PortPlan::new(20000);
        let mut all = vec![p.frontend(), p.balancer(), p.prometheus()];
        all.extend((0..MAX_BACKEND_REPLICAS).map(|i| p.backend(i)));
        all.extend((0..MAX_LOAD_PLANS).map(|i| p.loadgen_metrics(i)));
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n);
        assert_eq!(all.last().copied(), p.last());
        assert_eq!(PortPlan::new(u16::MAX - 3).last(), None);
    }

    #[test]
    fn copies_take_consecutive_blocks_that_must_fit() {
        let bases = copy_bases(20000, 3).unwrap();
        assert_eq!(bases, [20000, 20000 + BLOCK, 20000 + 2 * BLOCK]);
        // Blocks do not overlap: each ends below the next's start.
        assert_eq!(PortPlan::new(bases[0]).last(), Some(bases[1] - 1));
        assert_eq!(copy_bases(18080, 1).unwrap(), [18080]);
        let top = u16::MAX - BLOCK + 1;
        assert_eq!(copy_bases(top, 1).unwrap(), [top]);
        let err = copy_bases(top, 2).unwrap_err();
        assert!(
            err.contains("iterations = 2") && err.contains("--port-base"),
            "{err}"
        );
    }
}
