//! TLS client settings shared by the load generator and the frontend: which server
//! certificates are trusted (the system's roots, the CA files of `--cacert`, or none with
//! `--insecure`), turned into one rustls config with the ring provider (the one kube-rs
//! already brings in), and a failed handshake said in plain words.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

pub use rustls;

/// Which server certificates a client accepts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Trust {
    /// Those signed by a root the system trusts.
    #[default]
    System,
    /// Those signed by a CA in these PEM files (`--cacert`), instead of the system's roots.
    CaFiles(Vec<PathBuf>),
    /// Any certificate, for any name (`--insecure`).
    Insecure,
}

impl Trust {
    /// The trust the flags ask for; both at once contradict each other.
    pub fn from_flags(cacert: Vec<PathBuf>, insecure: bool) -> Result<Self, TlsError> {
        match (cacert.is_empty(), insecure) {
            (true, false) => Ok(Trust::System),
            (false, false) => Ok(Trust::CaFiles(cacert)),
            (true, true) => Ok(Trust::Insecure),
            (false, true) => Err(TlsError::Contradiction),
        }
    }
}

impl fmt::Display for Trust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trust::System => f.write_str("the system's root certificates"),
            Trust::CaFiles(files) => {
                let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
                write!(f, "the CA certificates of {}", names.join(", "))
            }
            Trust::Insecure => f.write_str("NOTHING: certificates are not verified (--insecure)"),
        }
    }
}

/// Why a TLS client could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("--cacert {}: {why}", path.display())]
    CaFile { path: PathBuf, why: String },
    #[error(
        "no root certificate found on this system ({0}); install ca-certificates, or give the \
         server's CA with --cacert FILE (or --insecure to verify nothing)"
    )]
    NoSystemRoots(String),
    #[error("--cacert and --insecure contradict each other: give the CA, or verify nothing")]
    Contradiction,
    #[error("the TLS settings are refused: {0}")]
    Rustls(#[from] rustls::Error),
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A client config trusting `trust` and offering the application protocols `alpn` (for
/// example `[b"h2"]`) in the handshake.
pub fn client_config(trust: &Trust, alpn: &[&[u8]]) -> Result<ClientConfig, TlsError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let mut config = match trust {
        Trust::Insecure => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth(),
        Trust::System => builder
            .with_root_certificates(system_roots()?)
            .with_no_client_auth(),
        Trust::CaFiles(files) => {
            let mut roots = RootCertStore::empty();
            for path in files {
                for cert in read_certificates(path)? {
                    roots.add(cert).map_err(|e| TlsError::CaFile {
                        path: path.clone(),
                        why: format!("not a usable CA certificate: {e}"),
                    })?;
                }
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(config)
}

/// Every certificate of a PEM file; none is an error.
pub fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bad = |why: String| TlsError::CaFile {
        path: path.to_path_buf(),
        why,
    };
    let pem = std::fs::read(path).map_err(|e| bad(format!("cannot read it: {e}")))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("not a PEM file: {e}")))?;
    if certs.is_empty() {
        return Err(bad(
            "holds no `BEGIN CERTIFICATE` block; give the CA certificate in PEM".into(),
        ));
    }
    Ok(certs)
}

fn system_roots() -> Result<RootCertStore, TlsError> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        let why = found
            .errors
            .first()
            .map_or_else(|| "the store is empty".to_string(), ToString::to_string);
        return Err(TlsError::NoSystemRoots(why));
    }
    Ok(roots)
}

/// Why a handshake failed, in words that say what to do. Takes the I/O error that
/// tokio-rustls (or a client built on it) returns.
pub fn handshake_failure(e: &std::io::Error) -> String {
    if let Some(why) = refusal_in(e) {
        return why;
    }
    match e.kind() {
        std::io::ErrorKind::UnexpectedEof => {
            "the server closed the connection during the TLS handshake (does it speak TLS on \
             this port?)"
                .into()
        }
        _ => format!("TLS handshake failed: {e}"),
    }
}

/// The TLS refusal in an error or its sources (looking inside I/O errors, which clients
/// nest), in plain words; None when there is none.
pub fn refusal_in(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut next = Some(e);
    while let Some(err) = next {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(refusal(tls));
        }
        if let Some(inner) = err
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
            && let Some(found) = refusal_in(inner)
        {
            return Some(found);
        }
        next = err.source();
    }
    None
}

/// A rustls error in plain words.
pub fn refusal(e: &rustls::Error) -> String {
    use rustls::Error as E;
    match e {
        E::InvalidCertificate(c) => certificate(c),
        E::AlertReceived(alert) => {
            format!("the server refused the TLS handshake (alert {alert:?})")
        }
        E::InvalidMessage(_) | E::InappropriateMessage { .. } => {
            format!("the server does not speak TLS as expected ({e}); is it an https port?")
        }
        other => format!("TLS handshake failed: {other}"),
    }
}

fn certificate(c: &CertificateError) -> String {
    use CertificateError as C;
    match c {
        C::UnknownIssuer => "certificate not trusted: unknown issuer (give its CA with --cacert \
                             FILE, or --insecure)"
            .into(),
        C::NotValidForName => "certificate not valid for this host name".into(),
        C::NotValidForNameContext {
            expected,
            presented,
        } => format!(
            "certificate not valid for host {} (it names {})",
            server_name(expected),
            if presented.is_empty() {
                "no host".to_string()
            } else {
                presented.join(", ")
            }
        ),
        C::Expired | C::ExpiredContext { .. } => format!("certificate expired ({c})"),
        C::NotValidYet | C::NotValidYetContext { .. } => format!("certificate not valid yet ({c})"),
        C::Revoked => "certificate revoked".into(),
        other => format!("invalid certificate: {other}"),
    }
}

fn server_name(name: &ServerName<'_>) -> String {
    match name {
        ServerName::DnsName(d) => d.as_ref().to_string(),
        ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
        other => format!("{other:?}"),
    }
}

/// `--insecure`: accepts every certificate and name. Handshake signatures are still checked,
/// so the session is at least with the holder of the presented key.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_give_one_trust_and_refuse_both_at_once() {
        assert_eq!(Trust::from_flags(vec![], false).unwrap(), Trust::System);
        assert_eq!(Trust::from_flags(vec![], true).unwrap(), Trust::Insecure);
        let ca = vec![PathBuf::from("ca.pem")];
        assert_eq!(
            Trust::from_flags(ca.clone(), false).unwrap(),
            Trust::CaFiles(ca.clone())
        );
        let e = Trust::from_flags(ca, true).unwrap_err().to_string();
        assert!(e.contains("--cacert and --insecure"), "{e}");
        assert!(Trust::Insecure.to_string().contains("not verified"));
    }

    #[test]
    fn a_ca_file_that_is_missing_empty_or_not_pem_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let e = client_config(&Trust::CaFiles(vec![missing]), &[]).unwrap_err();
        assert!(e.to_string().contains("missing.pem: cannot read it"), "{e}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "just text\n").unwrap();
        let e = client_config(&Trust::CaFiles(vec![empty]), &[]).unwrap_err();
        assert!(e.to_string().contains("no `BEGIN CERTIFICATE`"), "{e}");
    }

    #[test]
    fn refusals_say_what_to_do() {
        let unknown = rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
        assert!(refusal(&unknown).contains("--cacert"));
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, unknown);
        assert!(handshake_failure(&io).contains("unknown issuer"));
        // As an HTTP client nests it: an I/O error around the handshake's I/O error.
        let nested = std::io::Error::other(io);
        assert!(refusal_in(&nested).unwrap().contains("unknown issuer"));
        assert_eq!(refusal_in(&std::io::Error::other("plain")), None);
        let eof = std::io::Error::from(std::io::ErrorKind::UnexpectedEof);
        assert!(handshake_failure(&eof).contains("speak TLS"));
    }

    #[test]
    fn insecure_and_alpn_need_no_file() {
        let c = client_config(&Trust::Insecure, &[b"h2"]).unwrap();
        assert_eq!(c.alpn_protocols, vec![b"h2".to_vec()]);
    }
}
