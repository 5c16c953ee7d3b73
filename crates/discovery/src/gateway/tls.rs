//! Mutual TLS for the sidecars: a local certificate authority (a key and a self-signed
//! certificate in a directory), and for each sidecar a certificate for its service,
//! `<service>.dsys`, signed by it and good both for serving and for calling. A sidecar
//! accepts only callers whose certificate the authority signed, and calls only sidecars
//! whose certificate names the service it meant to reach.
//!
//! The authority's key sits beside the sidecars on one machine: a demonstration of the
//! pattern, not a production PKI (which would sign requests, rotate and revoke).

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What can go wrong with certificates.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The authority's files could not be read or written.
    #[error("certificate authority in {dir}: {error}")]
    Files {
        /// Its directory.
        dir: PathBuf,
        /// Why.
        error: String,
    },
    /// A certificate could not be made or used.
    #[error("certificates: {0}")]
    Certificate(String),
}

fn cert_error(e: impl std::fmt::Display) -> TlsError {
    TlsError::Certificate(e.to_string())
}

/// The authority's parameters: the same every time, so a key read back from its file
/// signs as the certificate in the file says.
fn authority_params() -> Result<CertificateParams, TlsError> {
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(cert_error)?;
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, "dsys local certificate authority");
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(params)
}

/// A local certificate authority.
#[derive(Debug)]
pub struct LocalCa {
    key: KeyPair,
    certificate: CertificateDer<'static>,
}

/// The names of a service's certificate.
pub fn server_name(service: &str) -> String {
    format!("{service}.dsys")
}

impl LocalCa {
    /// The authority in `dir` (`ca.pem`, `ca-key.pem`), made there first if there is none
    /// (the key readable by its owner only).
    pub fn open_or_create(dir: &Path) -> Result<LocalCa, TlsError> {
        let files = |error: String| TlsError::Files {
            dir: dir.to_path_buf(),
            error,
        };
        let (key_path, cert_path) = (dir.join("ca-key.pem"), dir.join("ca.pem"));
        if key_path.exists() {
            let key = std::fs::read_to_string(&key_path).map_err(|e| files(e.to_string()))?;
            let cert = std::fs::read_to_string(&cert_path).map_err(|e| files(e.to_string()))?;
            let key = KeyPair::from_pem(&key).map_err(|e| files(format!("ca-key.pem: {e}")))?;
            let der = pem_certificate(&cert)
                .ok_or_else(|| files("ca.pem holds no certificate".into()))?;
            return Ok(LocalCa {
                key,
                certificate: der,
            });
        }
        std::fs::create_dir_all(dir).map_err(|e| files(e.to_string()))?;
        let key = KeyPair::generate().map_err(cert_error)?;
        let certificate = authority_params()?.self_signed(&key).map_err(cert_error)?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options
            .open(&key_path)
            .and_then(|mut f| f.write_all(key.serialize_pem().as_bytes()))
            .map_err(|e| files(format!("ca-key.pem: {e}")))?;
        std::fs::write(&cert_path, certificate.pem()).map_err(|e| files(format!("ca.pem: {e}")))?;
        Ok(LocalCa {
            key,
            certificate: certificate.der().clone(),
        })
    }

    /// A certificate and key for `service`, signed by the authority.
    pub fn issue(&self, service: &str) -> Result<Identity, TlsError> {
        let mut params = CertificateParams::new(vec![server_name(service)]).map_err(cert_error)?;
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let key = KeyPair::generate().map_err(cert_error)?;
        let issuer = Issuer::new(authority_params()?, &self.key);
        let certificate = params.signed_by(&key, &issuer).map_err(cert_error)?;
        Ok(Identity {
            chain: vec![certificate.der().clone()],
            key: PrivatePkcs8KeyDer::from(key.serialize_der()),
            authority: self.certificate.clone(),
        })
    }
}

/// The DER of the first certificate in PEM `text`.
fn pem_certificate(text: &str) -> Option<CertificateDer<'static>> {
    let body: String = text
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE-----"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END CERTIFICATE-----"))
        .collect();
    crate::base64::decode(&body).map(CertificateDer::from)
}

/// A sidecar's certificate chain and key, and the authority it trusts.
#[derive(Debug)]
pub struct Identity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivatePkcs8KeyDer<'static>,
    authority: CertificateDer<'static>,
}

/// ring's cryptography: it builds with a C compiler alone, where aws-lc needs much more;
/// rustls marks it deprecated for lacking post-quantum key exchange, which sidecars
/// talking to each other on one machine do not need.
#[allow(deprecated)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl Identity {
    fn roots(&self) -> Result<Arc<RootCertStore>, TlsError> {
        let mut roots = RootCertStore::empty();
        roots.add(self.authority.clone()).map_err(cert_error)?;
        Ok(Arc::new(roots))
    }

    /// What it serves with: its certificate, and only callers the authority signed.
    pub fn server(&self) -> Result<Arc<ServerConfig>, TlsError> {
        let verifier = WebPkiClientVerifier::builder_with_provider(self.roots()?, provider())
            .build()
            .map_err(cert_error)?;
        let config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(cert_error)?
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                self.chain.clone(),
                PrivateKeyDer::Pkcs8(self.key.clone_key()),
            )
            .map_err(cert_error)?;
        Ok(Arc::new(config))
    }

    /// What it calls with: its certificate, and only servers the authority signed.
    pub fn client(&self) -> Result<Arc<ClientConfig>, TlsError> {
        let config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(cert_error)?
            .with_root_certificates(self.roots()?)
            .with_client_auth_cert(
                self.chain.clone(),
                PrivateKeyDer::Pkcs8(self.key.clone_key()),
            )
            .map_err(cert_error)?;
        Ok(Arc::new(config))
    }
}

/// The name a call to `service` must find in the server's certificate.
pub fn expected_name(service: &str) -> Result<ServerName<'static>, TlsError> {
    ServerName::try_from(server_name(service)).map_err(cert_error)
}
