//! The kube sub-commands of the binary, with no cluster: `render` writes what `kubectl
//! apply -f` takes; `run --runtime kube` and `destroy` say clearly that there is no cluster.

use std::path::Path;
use std::process::{Command, Output};

fn orchestrator(kubeconfig: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_orchestrator"));
    c.env("KUBECONFIG", kubeconfig).env_remove("KUBE_CONTEXT");
    c
}

/// A kubeconfig whose API server is a loopback port nothing listens on.
fn dead_cluster(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        "apiVersion: v1
kind: Config
clusters:
- name: gone
  cluster:
    server: https://127.0.0.1:1
    insecure-skip-tls-verify: true
contexts:
- name: kind-gone
  context:
    cluster: gone
    user: me
current-context: kind-gone
users:
- name: me
  user:
    token: not-a-secret
",
    )
    .unwrap();
    path
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn render_writes_manifests_kubectl_can_apply() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("manifests");
    let o = orchestrator(&dead_cluster(dir.path()))
        .args(["render", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mut files: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(files.len(), 17, "{files:?}");
    assert_eq!(files[0], "00-namespace-app-demo-demo-run-001.yaml");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("kubectl apply -f"), "{stdout}");
    for f in files {
        let text = std::fs::read_to_string(out.join(&f)).unwrap();
        let v: serde_norway::Value = serde_norway::from_str(&text).unwrap();
        assert!(v["apiVersion"].is_string() && v["kind"].is_string(), "{f}");
    }
}

#[test]
fn run_on_kube_without_a_cluster_says_how_to_get_one() {
    let dir = tempfile::tempdir().unwrap();
    let o = orchestrator(&dead_cluster(dir.path()))
        .args(["run", "--runtime", "kube", "--runs-dir"])
        .arg(dir.path().join("runs"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("no usable Kubernetes cluster"), "{e}");
    assert!(e.contains("https://127.0.0.1:1"), "{e}");
    assert!(e.contains("./scripts/kind-up.sh"), "{e}");
}

#[test]
fn an_unknown_context_lists_the_known_ones() {
    let dir = tempfile::tempdir().unwrap();
    let o = orchestrator(&dead_cluster(dir.path()))
        .args(["--context", "nope", "destroy", "--uuid", "r1"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("context \"nope\"") && e.contains("kind-gone"),
        "{e}"
    );
}

#[test]
fn a_missing_kubeconfig_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let o = orchestrator(&dir.path().join("no-such-kubeconfig"))
        .args(["destroy", "--uuid", "r1"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("no usable Kubernetes cluster") && e.contains("kubeconfig"),
        "{e}"
    );
}

#[test]
fn a_uuid_that_cannot_label_objects_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let o = orchestrator(&dead_cluster(dir.path()))
        .args(["run", "--runtime", "kube", "--uuid", "Run 1"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("scenario key uuid"), "{}", stderr(&o));
}
