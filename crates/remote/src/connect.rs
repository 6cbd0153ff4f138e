//! Connecting (`remote-format.md` 2): the URL (no password in it), where the password comes
//! from, TLS modes, timeouts, and turning driver errors into [`RemoteError`]s that say what
//! to do.

use std::sync::Arc;
use std::time::Duration;

use tokio_postgres::config::{Host, SslMode};
use zeroize::Zeroizing;

use crate::error::{RemoteError, Result};

/// How TLS is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    /// No TLS (the default for localhost and Unix sockets).
    Disable,
    /// TLS if the server offers it, certificate not checked.
    Prefer,
    /// TLS, certificate not checked.
    Require,
    /// TLS, chain checked against the roots, host name against the certificate.
    VerifyFull,
}

/// A parsed remote URL: what to connect to, without a password.
#[derive(Clone)]
pub struct Target {
    /// The driver's configuration (never holds a password until connect time).
    config: tokio_postgres::Config,
    /// TLS mode.
    pub tls: Tls,
    /// `sslrootcert=`: a PEM file of roots for `verify-full` instead of the system's.
    root_cert: Option<std::path::PathBuf>,
    /// `passfile=`: a libpq password file instead of `~/.pgpass`.
    passfile: Option<std::path::PathBuf>,
    /// The URL as given (it has no password), to show and store.
    pub url: String,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("url", &self.url)
            .field("tls", &self.tls)
            .finish()
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Target {
    /// Parses a `postgres://` URL. Refuses a password in it, and unknown `sslmode`s.
    pub fn parse(url: &str) -> Result<Target> {
        let bad = |reason: &str| RemoteError::InvalidUrl {
            reason: reason.to_owned(),
        };
        let rest = url
            .strip_prefix("postgres://")
            .or_else(|| url.strip_prefix("postgresql://"))
            .ok_or_else(|| bad("it must start with postgres:// (e.g. postgres://pvault@db.example.com/pvault?sslmode=verify-full)"))?;
        let (authority_path, query) = match rest.split_once('?') {
            Some((a, q)) => (a, Some(q)),
            None => (rest, None),
        };
        let authority = authority_path.split('/').next().unwrap_or("");
        if let Some((userinfo, _)) = authority.rsplit_once('@')
            && userinfo.contains(':')
        {
            return Err(bad(
                "it carries a password: remove it from the URL and give it through PGPASSWORD, a ~/.pgpass entry, or the prompt (a URL is shown and stored; a password must not be)",
            ));
        }
        let mut tls = None;
        let mut root_cert = None;
        let mut passfile = None;
        let mut kept = Vec::new();
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = percent_decode(v);
            match k {
                "sslmode" => {
                    tls = Some(match v.as_str() {
                        "disable" => Tls::Disable,
                        "allow" | "prefer" => Tls::Prefer,
                        "require" => Tls::Require,
                        "verify-full" => Tls::VerifyFull,
                        "verify-ca" => {
                            return Err(bad(
                                "sslmode=verify-ca is not supported: use verify-full (it also checks the host name)",
                            ));
                        }
                        _ => {
                            return Err(bad(
                                "sslmode must be disable, prefer, require or verify-full",
                            ));
                        }
                    })
                }
                "sslrootcert" => root_cert = Some(std::path::PathBuf::from(v)),
                "passfile" => passfile = Some(std::path::PathBuf::from(v)),
                "password" => {
                    return Err(bad(
                        "it carries a password parameter: remove it (use PGPASSWORD, ~/.pgpass or the prompt)",
                    ));
                }
                _ => kept.push(pair),
            }
        }
        let mut rebuilt = format!("postgres://{authority_path}");
        if !kept.is_empty() {
            rebuilt.push('?');
            rebuilt.push_str(&kept.join("&"));
        }
        let mut config: tokio_postgres::Config = rebuilt
            .parse()
            .map_err(|e: tokio_postgres::Error| bad(&e.to_string()))?;
        if config.get_hosts().is_empty() {
            return Err(bad(
                "it names no host (postgres://ROLE@HOST[:PORT]/DATABASE)",
            ));
        }
        if config.get_user().is_none() {
            return Err(bad("it names no role (postgres://ROLE@HOST/DATABASE)"));
        }
        if config.get_dbname().is_none() {
            return Err(bad("it names no database (postgres://ROLE@HOST/DATABASE)"));
        }
        let local = config.get_hosts().iter().all(|h| match h {
            Host::Tcp(h) => matches!(h.as_str(), "localhost" | "127.0.0.1" | "::1"),
            Host::Unix(_) => true,
        });
        let tls = tls.unwrap_or(if local { Tls::Disable } else { Tls::Prefer });
        config.application_name("pvault");
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        config.keepalives_idle(Duration::from_secs(30));
        config.options("-c statement_timeout=30000 -c idle_in_transaction_session_timeout=30000");
        config.ssl_mode(match tls {
            Tls::Disable => SslMode::Disable,
            Tls::Prefer => SslMode::Prefer,
            Tls::Require | Tls::VerifyFull => SslMode::Require,
        });
        Ok(Target {
            config,
            tls,
            root_cert,
            passfile,
            url: url.to_owned(),
        })
    }

    /// `host:port` of the first host, to name in errors.
    pub fn host_port(&self) -> String {
        let host = match self.config.get_hosts().first() {
            Some(Host::Tcp(h)) => h.clone(),
            Some(Host::Unix(p)) => p.display().to_string(),
            None => "?".into(),
        };
        let port = self.config.get_ports().first().copied().unwrap_or(5432);
        format!("{host}:{port}")
    }

    /// The role.
    pub fn role(&self) -> &str {
        self.config.get_user().unwrap_or("")
    }

    /// The database.
    pub fn dbname(&self) -> &str {
        self.config.get_dbname().unwrap_or("")
    }

    /// The password from a libpq password file (`passfile=`, `$PGPASSFILE`, `~/.pgpass`), if
    /// an entry matches host, port, database and role.
    pub fn passfile_password(&self) -> Option<Zeroizing<String>> {
        let path = self
            .passfile
            .clone()
            .or_else(|| std::env::var_os("PGPASSFILE").map(Into::into))
            .or_else(|| {
                std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".pgpass"))
            })?;
        let text = Zeroizing::new(std::fs::read_to_string(path).ok()?);
        let host = match self.config.get_hosts().first()? {
            Host::Tcp(h) => h.clone(),
            Host::Unix(_) => "localhost".into(),
        };
        let port = self
            .config
            .get_ports()
            .first()
            .copied()
            .unwrap_or(5432)
            .to_string();
        let want = [host.as_str(), port.as_str(), self.dbname(), self.role()];
        for line in text.lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let fields = split_pgpass(line);
            if fields.len() != 5 {
                continue;
            }
            if fields[..4]
                .iter()
                .zip(want)
                .all(|(f, w)| f.as_str() == "*" || f.as_str() == w)
            {
                return Some(Zeroizing::new(fields[4].clone()));
            }
        }
        None
    }

    /// Connects with `password` (or the password file's, or none); spawns the connection's
    /// task on the current runtime.
    pub async fn connect(&self, password: Option<&str>) -> Result<tokio_postgres::Client> {
        let mut config = self.config.clone();
        let from_file = if password.is_none() {
            self.passfile_password()
        } else {
            None
        };
        if let Some(p) = password.or(from_file.as_deref().map(String::as_str)) {
            config.password(p);
        }
        let client = match self.tls {
            Tls::Disable => {
                let (client, conn) = config
                    .connect(tokio_postgres::NoTls)
                    .await
                    .map_err(|e| self.connect_err(e))?;
                tokio::spawn(async move {
                    let _ = conn.await;
                });
                client
            }
            mode => {
                let tls = self.rustls(mode)?;
                let (client, conn) = config.connect(tls).await.map_err(|e| self.connect_err(e))?;
                tokio::spawn(async move {
                    let _ = conn.await;
                });
                client
            }
        };
        drop(config);
        Ok(client)
    }

    fn rustls(&self, mode: Tls) -> Result<tokio_postgres_rustls::MakeRustlsConnect> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| RemoteError::InvalidUrl {
                reason: format!("TLS setup: {e}"),
            })?;
        let cfg = if mode == Tls::VerifyFull {
            let mut roots = rustls::RootCertStore::empty();
            match &self.root_cert {
                Some(path) => {
                    use rustls_pki_types::pem::PemObject as _;
                    let certs =
                        rustls_pki_types::CertificateDer::pem_file_iter(path).map_err(|e| {
                            RemoteError::InvalidUrl {
                                reason: format!("sslrootcert {}: {e}", path.display()),
                            }
                        })?;
                    for c in certs {
                        let c = c.map_err(|e| RemoteError::InvalidUrl {
                            reason: format!("sslrootcert {}: {e}", path.display()),
                        })?;
                        let _ = roots.add(c);
                    }
                }
                None => {
                    for c in rustls_native_certs::load_native_certs().certs {
                        let _ = roots.add(c);
                    }
                }
            }
            if roots.is_empty() {
                return Err(RemoteError::InvalidUrl {
                    reason: "sslmode=verify-full found no root certificate: install ca-certificates or give sslrootcert=FILE".into(),
                });
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
                .with_no_client_auth()
        };
        Ok(tokio_postgres_rustls::MakeRustlsConnect::new(cfg))
    }

    fn connect_err(&self, e: tokio_postgres::Error) -> RemoteError {
        db_error(self, e)
    }
}

/// Maps a driver error to what the user can act on.
pub(crate) fn db_error(t: &Target, e: tokio_postgres::Error) -> RemoteError {
    use tokio_postgres::error::SqlState;
    if let Some(db) = e.as_db_error() {
        let code = db.code();
        if *code == SqlState::INVALID_PASSWORD
            || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
        {
            return RemoteError::WrongPassword {
                target: t.host_port(),
                role: t.role().to_owned(),
                detail: db.message().to_owned(),
            };
        }
        if *code == SqlState::INVALID_CATALOG_NAME {
            return RemoteError::NoDatabase {
                target: t.host_port(),
                db: t.dbname().to_owned(),
            };
        }
        if *code == SqlState::ADMIN_SHUTDOWN
            || *code == SqlState::CRASH_SHUTDOWN
            || *code == SqlState::CANNOT_CONNECT_NOW
            || code.code().starts_with("08")
        {
            return RemoteError::Unreachable {
                target: t.host_port(),
                detail: db.message().to_owned(),
            };
        }
        return RemoteError::Database {
            detail: format!("{} ({})", db.message(), code.code()),
        };
    }
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    if msg.contains("password missing") {
        return RemoteError::WrongPassword {
            target: t.host_port(),
            role: t.role().to_owned(),
            detail: "the server asks for a password and none was given (PGPASSWORD, ~/.pgpass, or the prompt)".into(),
        };
    }
    RemoteError::Unreachable {
        target: t.host_port(),
        detail: msg,
    }
}

fn split_pgpass(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut esc = false;
    for c in line.chars() {
        match (esc, c) {
            (true, c) => {
                fields.last_mut().unwrap().push(c);
                esc = false;
            }
            (false, '\\') => esc = true,
            (false, ':') => fields.push(String::new()),
            (false, c) => fields.last_mut().unwrap().push(c),
        }
    }
    fields
}

/// `sslmode=require`/`prefer`: encrypted, the server's certificate not checked (as libpq
/// does); signatures are still verified so the handshake is sound against a passive reader.
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls_pki_types::CertificateDer<'_>,
        _intermediates: &[rustls_pki_types::CertificateDer<'_>],
        _server_name: &rustls_pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls_pki_types::UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked() {
        let t = Target::parse("postgres://pv@127.0.0.1:5999/db").unwrap();
        assert_eq!(t.tls, Tls::Disable);
        assert_eq!(t.host_port(), "127.0.0.1:5999");
        let t = Target::parse("postgresql://pv@db.example.com/db?sslmode=verify-full").unwrap();
        assert_eq!(t.tls, Tls::VerifyFull);
        assert_eq!(
            Target::parse("postgres://pv@db.example.com/db")
                .unwrap()
                .tls,
            Tls::Prefer
        );
        for bad in [
            "mysql://x@h/db",
            "postgres://pv:secret@h/db",
            "postgres://pv@h/db?password=secret",
            "postgres://pv@h/db?sslmode=bogus",
            "postgres://pv@h/db?sslmode=verify-ca",
            "postgres://pv@h",
        ] {
            let e = Target::parse(bad).unwrap_err();
            assert_eq!(e.code(), "invalid_argument", "{bad}");
            assert!(!e.to_string().contains("secret"), "{e}");
        }
    }

    #[test]
    fn pgpass_lines_split_with_escapes() {
        assert_eq!(
            split_pgpass(r"h:5432:*:u:p\:w\\d"),
            ["h", "5432", "*", "u", r"p:w\d"]
        );
    }
}
