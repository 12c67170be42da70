//! The proxy and the polls reach an https backend: a TLS terminator (certificates made at
//! test time) in front of a real demo-backend. Its CA given with `--cacert` or
//! `--insecure` is accepted; left to the system's roots, it is refused with a 502 naming
//! the cause.

use std::sync::Arc;

use common::api::{ErrorBody, Ticket, routes};
use common::tls::Trust;
use demo_frontend::ReplicaSource;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::support::{Backend, Frontend, config};

/// TLS on a port of its own, forwarding the plain bytes to `backend` (`http://host:port`).
/// Returns its https URL and the CA's PEM file (in `dir`).
async fn terminator(backend: &str, dir: &std::path::Path) -> (String, std::path::PathBuf) {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "test CA");
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let server = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], key)
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(server));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    let upstream = backend.trim_start_matches("http://").to_string();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, upstream) = (acceptor.clone(), upstream.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                if let Ok(mut plain) = TcpStream::connect(&upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                }
            });
        }
    });
    (url, ca_file)
}

async fn book(fe: &Frontend) -> reqwest::Response {
    fe.client
        .post(format!("{}{}", fe.url, routes::TICKETS))
        .json(&json!({"showtime_id": 1, "seats": 1}))
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_backend_is_reached_with_its_ca_or_insecure_and_refused_otherwise() {
    let backend = Backend::start("behind-tls").await;
    let dir = tempfile::tempdir().unwrap();
    let (url, ca_file) = terminator(&backend.url, dir.path()).await;
    for trust in [Trust::CaFiles(vec![ca_file]), Trust::Insecure] {
        let mut cfg = config(&url, ReplicaSource::Static(vec![url.clone()]));
        cfg.trust = trust.clone();
        let fe = Frontend::start(cfg).await;
        let resp = book(&fe).await;
        assert_eq!(resp.status(), 201, "trusting {trust}");
        let ticket: Ticket = resp.json().await.unwrap();
        assert_eq!(ticket.seats, 1);
        fe.stop().await;
    }
    // The system's roots do not know the test's CA.
    let fe = Frontend::start(config(&url, ReplicaSource::Static(vec![url.clone()]))).await;
    let resp = book(&fe).await;
    assert_eq!(resp.status(), 502);
    let body: ErrorBody = resp.json().await.unwrap();
    assert!(
        body.error.contains("tls: certificate not trusted"),
        "{body:?}"
    );
    fe.stop().await;
    backend.stop().await;
}
