//! TLS to the stores: one rustls client configuration, on the workspace's one crypto provider
//! (aws-lc), for PostgreSQL and Redis alike.
//!
//! Trust comes from a CA file when one is given (only that file: a private CA should not be
//! widened to every public one), and from the system's roots otherwise (`SSL_CERT_FILE` and
//! `SSL_CERT_DIR` are honoured). The certificate is always verified: its chain, its validity,
//! and its name against the host connected to, except in [`Verify::ChainOnly`] (libpq's
//! `verify-ca`), which needs a CA file, since with the system roots any publicly trusted
//! certificate would pass.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use crate::error::{Error, Result};

/// How much of the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verify {
    /// The chain up to a trusted root, and the name against the host (libpq's `verify-full`).
    Full,
    /// The chain only, not the name (libpq's `verify-ca`): needs a CA file.
    ChainOnly,
}

/// A client configuration trusting `ca_file` (or the system's roots), checking as `verify`
/// says, offering `alpn` when given. `what` names the store in errors.
pub(crate) fn client_config(
    what: &str,
    ca_file: Option<&Path>,
    verify: Verify,
    alpn: Option<&[u8]>,
) -> Result<ClientConfig> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let roots = match ca_file {
        Some(path) => roots_from_file(what, path)?,
        None if verify == Verify::ChainOnly => {
            return Err(Error::Config(format!(
                "{what}: verify-ca needs a CA file: with the system's roots any public \
                 certificate would pass"
            )));
        }
        None => system_roots(what)?,
    };
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| Error::Config(format!("{what} TLS: {e}")))?;
    let verifier: Arc<dyn ServerCertVerifier> = match verify {
        Verify::Full => webpki,
        Verify::ChainOnly => Arc::new(ChainOnly(webpki)),
    };
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config(format!("{what} TLS: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    if let Some(alpn) = alpn {
        config.alpn_protocols = vec![alpn.to_vec()];
    }
    Ok(config)
}

/// Every certificate of a PEM file; a file that cannot be read or holds none is a
/// configuration error.
fn roots_from_file(what: &str, path: &Path) -> Result<RootCertStore> {
    let shown = path.display();
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|e| Error::Config(format!("{what} CA file {shown}: {e}")))?
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::Config(format!("{what} CA file {shown}: {e}")))?;
    if certificates.is_empty() {
        return Err(Error::Config(format!(
            "{what} CA file {shown}: no PEM certificate in it"
        )));
    }
    let mut roots = RootCertStore::empty();
    for certificate in certificates {
        roots
            .add(certificate)
            .map_err(|e| Error::Config(format!("{what} CA file {shown}: {e}")))?;
    }
    Ok(roots)
}

/// The system's roots; certificates that do not parse are skipped (and logged), none at all is
/// a configuration error.
fn system_roots(what: &str) -> Result<RootCertStore> {
    let found = rustls_native_certs::load_native_certs();
    for error in &found.errors {
        tracing::warn!(store = what, %error, "skipping a system root certificate");
    }
    let mut roots = RootCertStore::empty();
    let (added, ignored) = roots.add_parsable_certificates(found.certs);
    if ignored > 0 {
        tracing::warn!(
            store = what,
            ignored,
            "system root certificates that do not parse"
        );
    }
    if added == 0 {
        return Err(Error::Config(format!(
            "{what} TLS: no system root certificates found; give a CA file"
        )));
    }
    Ok(roots)
}

/// The chain is verified in full (webpki checks it before the name); only a name mismatch is
/// forgiven.
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl fmt::Debug for ChainOnly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ChainOnly")
    }
}

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_ca_without_a_ca_file_is_refused() {
        let refused = client_config("PostgreSQL", None, Verify::ChainOnly, None);
        assert!(
            matches!(&refused, Err(Error::Config(why)) if why.contains("verify-ca needs a CA file")),
            "{refused:?}"
        );
    }

    #[test]
    fn a_ca_file_that_is_missing_or_holds_no_certificate_is_refused() {
        let missing = client_config(
            "Redis",
            Some(Path::new("/nonexistent/ca.pem")),
            Verify::Full,
            None,
        );
        assert!(
            matches!(&missing, Err(Error::Config(why)) if why.starts_with("Redis CA file /nonexistent/ca.pem")),
            "{missing:?}"
        );
        let dir = std::env::temp_dir().join(format!("auth-tls-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let refused = client_config("Redis", Some(&empty), Verify::Full, None);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(
            matches!(&refused, Err(Error::Config(why)) if why.contains("no PEM certificate")),
            "{refused:?}"
        );
    }

    #[test]
    fn the_system_roots_make_a_full_verifier_with_alpn() {
        let config = client_config("PostgreSQL", None, Verify::Full, Some(b"postgresql")).unwrap();
        assert_eq!(config.alpn_protocols, [b"postgresql".to_vec()]);
    }
}
