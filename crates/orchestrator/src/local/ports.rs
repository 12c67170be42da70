//! The local runtime's port plan: consecutive loopback ports from `--port-base`.

use std::net::SocketAddr;

/// The first port of the default plan.
pub const DEFAULT_PORT_BASE: u16 = 18080;

/// How many backend replicas the plan reserves ports for.
pub const MAX_BACKEND_REPLICAS: u16 = 16;

/// How many load plans (one load generator each) the plan reserves ports for.
pub const MAX_LOAD_PLANS: u16 = 8;

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
}
