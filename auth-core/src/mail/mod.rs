//! Mail: what an outbox message for the `mail` sink holds ([`MailMessage`]), the templates
//! mails are written from ([`templates`]), the development sink that writes them to the log
//! ([`LogSink`]), and, with the `smtp` feature, the sink that sends them over SMTP
//! ([`SmtpSink`]).
//!
//! Every mail carries the outbox message's id as its `Message-ID`, the same on every attempt,
//! so a mail sent twice (a worker that died before it could report) is recognisably one.

pub mod templates;

use std::time::SystemTime;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::outbox::{Delivery, DeliveryError, MessageId, OutboxMessage, Sink};
pub use templates::{Field, Fields, MailKind, Rendered, Templates};

/// The sink name mail goes to.
pub const MAIL_SINK: &str = "mail";

/// The outbox message kind of a mail of `kind`: `mail.` and its name.
pub fn message_kind(kind: MailKind) -> String {
    format!("mail.{kind}")
}

/// A mail as an outbox message's payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailMessage {
    /// The recipient's address.
    pub to: String,
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// An HTML body besides the text, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
}

impl MailMessage {
    /// A mail to `to`, as rendered.
    pub fn new(to: impl Into<String>, rendered: Rendered) -> Self {
        Self {
            to: to.into(),
            subject: rendered.subject,
            text: rendered.text,
            html: rendered.html,
        }
    }

    /// The outbox message that sends this mail of `kind`, made at `now`, to the mail sink.
    pub fn into_outbox(self, kind: MailKind, now: SystemTime) -> OutboxMessage {
        OutboxMessage {
            id: MessageId::new(),
            kind: message_kind(kind),
            payload: serde_json::to_value(self)
                .unwrap_or_else(|error| unreachable!("a mail serialises: {error}")),
            sinks: vec![MAIL_SINK.to_owned()],
            created_at: now,
        }
    }
}

/// The mail sink of a development server with no SMTP server: every mail goes to the log at
/// WARN, whole (links and codes included), marked as not sent. Never for production: the log
/// then holds what only the recipient may read.
#[derive(Debug, Default, Clone, Copy)]
pub struct LogSink;

#[async_trait]
impl Sink for LogSink {
    fn name(&self) -> &str {
        MAIL_SINK
    }

    async fn deliver(&self, delivery: &Delivery) -> std::result::Result<(), DeliveryError> {
        let mail: MailMessage = serde_json::from_value(delivery.message.payload.clone())
            .map_err(|e| DeliveryError::permanent(format!("not a mail payload: {e}")))?;
        tracing::warn!(
            message_id = %delivery.message.id,
            kind = %delivery.message.kind,
            to = %mail.to,
            subject = %mail.subject,
            body = %mail.text,
            "DEVELOPMENT MAIL, NOT SENT (no SMTP_URL): this log line holds the mail's links and codes"
        );
        Ok(())
    }
}

#[cfg(feature = "smtp")]
pub use smtp::SmtpSink;

#[cfg(feature = "smtp")]
mod smtp {
    use async_trait::async_trait;
    use lettre::message::header::ContentType;
    use lettre::message::{Mailbox, MultiPart, SinglePart};
    use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

    use super::{MAIL_SINK, MailMessage};
    use crate::error::{Error, Result};
    use crate::outbox::{Delivery, DeliveryError, Sink};

    /// Sends mail over SMTP: `smtps://` for implicit TLS, `smtp://...?tls=required` for
    /// STARTTLS, `smtp://` without TLS (a relay on the same host), with credentials in the URL
    /// (lettre's URL form).
    pub struct SmtpSink {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        from: Mailbox,
        /// The right-hand side of every `Message-ID`.
        domain: String,
    }

    impl std::fmt::Debug for SmtpSink {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            // The transport holds the credentials: never printed.
            f.debug_struct("SmtpSink")
                .field("from", &self.from.to_string())
                .finish_non_exhaustive()
        }
    }

    impl SmtpSink {
        /// A sink sending through the server at `url` as `from` (`Name <address>` or an
        /// address). [`Error::Config`] when either does not parse.
        pub fn from_url(url: &str, from: &str) -> Result<Self> {
            Self::from_url_trusting(url, from, None)
        }

        /// Whether `url` makes every connection use TLS: `smtps://`, or `smtp://` with
        /// `tls=required` (not `tls=opportunistic`, which falls back to plaintext).
        pub fn requires_tls(url: &str) -> bool {
            matches!(tls_of(url).1, TlsMode::Wrapper | TlsMode::Required)
        }

        /// [`from_url`](Self::from_url), trusting the CA certificate `ca_pem` (PEM) for the
        /// server's certificate besides the system's roots: a mail relay with a certificate
        /// of a private CA.
        pub fn from_url_trusting(url: &str, from: &str, ca_pem: Option<&[u8]>) -> Result<Self> {
            let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                .map_err(|e| Error::Config(format!("SMTP_URL: {e}")))?;
            if let Some(pem) = ca_pem {
                let (host, tls) = tls_of(url);
                let root = Certificate::from_pem(pem)
                    .map_err(|e| Error::Config(format!("SMTP_CA_FILE: {e}")))?;
                let parameters = TlsParameters::builder(host)
                    .add_root_certificate(root)
                    .build_rustls()
                    .map_err(|e| Error::Config(format!("SMTP_CA_FILE: {e}")))?;
                builder = match tls {
                    TlsMode::Wrapper => builder.tls(Tls::Wrapper(parameters)),
                    TlsMode::Required => builder.tls(Tls::Required(parameters)),
                    TlsMode::Opportunistic => builder.tls(Tls::Opportunistic(parameters)),
                    TlsMode::None => {
                        return Err(Error::Config(
                            "SMTP_CA_FILE: set, but SMTP_URL uses no TLS (smtps://, or \
                             smtp://...?tls=required)"
                                .into(),
                        ));
                    }
                };
            }
            // A relay that stops answering holds a worker for this long at most per mail.
            let transport = builder.timeout(Some(SMTP_TIMEOUT)).build();
            let from: Mailbox = from
                .parse()
                .map_err(|e| Error::Config(format!("MAIL_FROM: {e}")))?;
            let domain = from.email.domain().to_owned();
            Ok(Self {
                transport,
                from,
                domain,
            })
        }

        fn message(&self, delivery: &Delivery) -> std::result::Result<Message, DeliveryError> {
            let mail: MailMessage = serde_json::from_value(delivery.message.payload.clone())
                .map_err(|e| DeliveryError::permanent(format!("not a mail payload: {e}")))?;
            let to: Mailbox = mail
                .to
                .parse()
                .map_err(|e| DeliveryError::permanent(format!("recipient {:?}: {e}", mail.to)))?;
            let builder = Message::builder()
                .from(self.from.clone())
                .to(to)
                .subject(mail.subject)
                .message_id(Some(format!("<{}@{}>", delivery.message.id, self.domain)));
            let text = SinglePart::builder()
                .header(ContentType::TEXT_PLAIN)
                .body(mail.text);
            let built = match mail.html {
                None => builder.singlepart(text),
                Some(html) => builder.multipart(
                    MultiPart::alternative().singlepart(text).singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_HTML)
                            .body(html),
                    ),
                ),
            };
            built.map_err(|e| DeliveryError::permanent(format!("building the mail: {e}")))
        }
    }

    /// How long one SMTP command may take before the delivery fails (and is retried).
    const SMTP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

    /// How an SMTP URL asks for TLS (lettre's rules: `smtps` wraps the connection, `tls=` of
    /// an `smtp` URL asks for STARTTLS).
    enum TlsMode {
        Wrapper,
        Required,
        Opportunistic,
        None,
    }

    /// The host of an SMTP URL and how it asks for TLS, read as lettre reads it (the first
    /// `tls` of the decoded query), so the check and the transport never disagree.
    fn tls_of(url: &str) -> (String, TlsMode) {
        let Ok(parsed) = url::Url::parse(url) else {
            return (String::new(), TlsMode::None);
        };
        let tls = parsed
            .query_pairs()
            .find(|(key, _)| key == "tls")
            .map(|(_, value)| value.into_owned());
        let mode = match (parsed.scheme(), tls.as_deref()) {
            ("smtps", _) => TlsMode::Wrapper,
            (_, Some("required")) => TlsMode::Required,
            (_, Some("opportunistic")) => TlsMode::Opportunistic,
            _ => TlsMode::None,
        };
        let host = parsed.host_str().unwrap_or_default();
        // An IPv6 host comes bracketed; TLS names it without the brackets.
        let host = host.trim_start_matches('[').trim_end_matches(']');
        (host.to_owned(), mode)
    }

    #[async_trait]
    impl Sink for SmtpSink {
        fn name(&self) -> &str {
            MAIL_SINK
        }

        async fn deliver(&self, delivery: &Delivery) -> std::result::Result<(), DeliveryError> {
            let message = self.message(delivery)?;
            // Whatever the relay answers is retried until the message is too old: a 5xx may
            // be about this mail (no such mailbox) or about the relay's own setup (a sender
            // it will not relay for, authentication), and the second kind must not lose every
            // mail queued while it is being fixed.
            self.transport
                .send(message)
                .await
                .map(drop)
                .map_err(|e| DeliveryError::transient(format!("SMTP: {e}")))
        }
    }
}

#[cfg(all(test, feature = "smtp", feature = "test-util"))]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Duration;

    use super::*;
    use crate::clock::{Clock, ManualClock};
    use crate::flows::{Round, WorkerConfig, deliver_round};
    use crate::outbox::{MessageId, OutboxMessage};
    use crate::store::OutboxStore;
    use crate::store::memory::MemoryStore;
    use crate::testing::needs::{Need, require};
    use crate::testing::private::{PrivateSmtp, free_port};

    fn mail_to(to: &str, clock: &ManualClock) -> OutboxMessage {
        let mail = MailMessage {
            to: to.into(),
            subject: "Verify your address".into(),
            text: "Your code is 123456.".into(),
            html: Some("<p>Your code is <b>123456</b>.</p>".into()),
        };
        OutboxMessage {
            id: MessageId::new(),
            kind: "mail.verify_email".into(),
            payload: serde_json::to_value(mail).unwrap(),
            sinks: vec![MAIL_SINK.into()],
            created_at: clock.now(),
        }
    }

    /// The mails whose `Message-ID` is the outbox message's.
    fn received(smtp: &PrivateSmtp, id: MessageId) -> Vec<String> {
        let header = format!("Message-ID: <{id}@example.com>");
        smtp.mails()
            .into_iter()
            .filter(|mail| mail.lines().any(|line| line.eq_ignore_ascii_case(&header)))
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_outbox_mail_reaches_a_real_smtp_server_once_with_its_message_id() {
        if !require(Need::PythonAiosmtpd) {
            return;
        }
        let smtp = tokio::task::spawn_blocking(PrivateSmtp::start)
            .await
            .unwrap();
        let sink = SmtpSink::from_url(&smtp.url(), "Auth <auth@example.com>").unwrap();
        let (store, clock) = (
            MemoryStore::new(),
            ManualClock::at_unix(crate::testing::NOW),
        );
        let message = mail_to("ada@example.org", &clock);
        store.enqueue(message.clone()).await.unwrap();

        let round = deliver_round(&store, &sink, &clock, &WorkerConfig::default())
            .await
            .unwrap();
        assert_eq!(
            round,
            Round {
                delivered: 1,
                failed: 0,
                given_up: 0,
            }
        );
        let mails = received(&smtp, message.id);
        assert_eq!(mails.len(), 1, "{:?}", smtp.mails());
        let mail = &mails[0];
        assert!(mail.contains("Subject: Verify your address"), "{mail}");
        assert!(mail.contains("To: ada@example.org"), "{mail}");
        assert!(
            mail.contains("text/html") && mail.contains("Your code is 123456."),
            "{mail}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn with_the_smtp_server_down_mail_waits_and_goes_once_it_is_back() {
        if !require(Need::PythonAiosmtpd) {
            return;
        }
        let port = free_port();
        let sink =
            SmtpSink::from_url(&format!("smtp://127.0.0.1:{port}"), "auth@example.com").unwrap();
        let (store, clock) = (
            MemoryStore::new(),
            ManualClock::at_unix(crate::testing::NOW),
        );
        let message = mail_to("grace@example.org", &clock);
        store.enqueue(message.clone()).await.unwrap();
        let config = WorkerConfig::default();

        let round = deliver_round(&store, &sink, &clock, &config).await.unwrap();
        assert_eq!(
            round,
            Round {
                delivered: 0,
                failed: 1,
                given_up: 0,
            },
            "nothing listens yet"
        );
        assert_eq!(store.backlog(MAIL_SINK).await.unwrap().pending, 1);

        let smtp = tokio::task::spawn_blocking(move || PrivateSmtp::start_on(port))
            .await
            .unwrap();
        clock.advance(config.retry_base);
        let round = deliver_round(&store, &sink, &clock, &config).await.unwrap();
        assert_eq!(
            round,
            Round {
                delivered: 1,
                failed: 0,
                given_up: 0,
            }
        );
        clock.advance(Duration::from_secs(3600));
        let round = deliver_round(&store, &sink, &clock, &config).await.unwrap();
        assert_eq!(round, Round::default(), "sent once");
        assert_eq!(received(&smtp, message.id).len(), 1);
        assert_eq!(store.backlog(MAIL_SINK).await.unwrap().pending, 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mail_goes_over_starttls_with_auth_to_a_server_that_requires_both() {
        if !crate::testing::needs::require_all(&[Need::PythonAiosmtpd, Need::Openssl]) {
            return;
        }
        let ca = crate::testing::private::TestCa::new();
        let smtp = tokio::task::spawn_blocking({
            let ca_cert = ca.cert.clone();
            let ca = ca;
            move || {
                (
                    PrivateSmtp::start_secure(&ca, "mailer", "s3cret-pass"),
                    ca_cert,
                    ca,
                )
            }
        })
        .await
        .unwrap();
        let (smtp, ca_pem, _ca) = (smtp.0, std::fs::read(&smtp.1).unwrap(), smtp.2);
        let (store, clock) = (
            MemoryStore::new(),
            ManualClock::at_unix(crate::testing::NOW),
        );
        let url = |user: &str| format!("smtp://{user}@127.0.0.1:{}?tls=required", smtp.port);

        // A wrong password, and no trust in the server's certificate: refused, kept.
        for (url, ca) in [
            (url("mailer:wrong-pass"), Some(ca_pem.as_slice())),
            (url("mailer:s3cret-pass"), None),
        ] {
            let sink = SmtpSink::from_url_trusting(&url, "auth@example.com", ca).unwrap();
            let message = mail_to("nobody@example.org", &clock);
            store.enqueue(message.clone()).await.unwrap();
            let round = deliver_round(&store, &sink, &clock, &WorkerConfig::default())
                .await
                .unwrap();
            assert_eq!(round.delivered, 0, "{url}");
            assert!(round.failed >= 1, "{url}: {round:?}");
            clock.advance(Duration::from_secs(3600));
        }
        assert!(smtp.mails().is_empty());

        let sink = SmtpSink::from_url_trusting(
            &url("mailer:s3cret-pass"),
            "Auth <auth@example.com>",
            Some(&ca_pem),
        )
        .unwrap();
        let message = mail_to("ada@example.org", &clock);
        store.enqueue(message.clone()).await.unwrap();
        let mut delivered = 0;
        for _ in 0..3 {
            let round = deliver_round(&store, &sink, &clock, &WorkerConfig::default())
                .await
                .unwrap();
            delivered += round.delivered;
            clock.advance(Duration::from_secs(3600));
        }
        assert_eq!(delivered, 3, "the new mail and the two kept ones");
        assert_eq!(received(&smtp, message.id).len(), 1);
        assert_eq!(smtp.mails().len(), 3);
    }

    #[test]
    fn tls_is_read_from_the_url_as_lettre_reads_it() {
        for (url, required) in [
            ("smtps://user:pass@mail.example.com", true),
            ("smtp://mail.example.com:587?tls=required", true),
            ("smtp://mail.example.com:587?tls=opportunistic", false),
            ("smtp://mail.example.com:25", false),
            // Decoded as lettre decodes it: the first `tls` is opportunistic.
            ("smtp://h:587?%74ls=opportunistic&tls=required", false),
            ("smtp://h:587?tls=%72equired", true),
            ("not a url", false),
        ] {
            assert_eq!(SmtpSink::requires_tls(url), required, "{url}");
        }
    }

    #[test]
    fn a_bad_sender_or_url_is_a_configuration_error() {
        assert!(matches!(
            SmtpSink::from_url("smtp://127.0.0.1:25", "not an address"),
            Err(crate::Error::Config(_))
        ));
        assert!(matches!(
            SmtpSink::from_url("http://127.0.0.1", "auth@example.com"),
            Err(crate::Error::Config(_))
        ));
        assert!(matches!(
            SmtpSink::from_url_trusting(
                "smtp://127.0.0.1:25",
                "auth@example.com",
                Some(b"-----BEGIN CERTIFICATE-----\n".as_slice())
            ),
            Err(crate::Error::Config(_))
        ));
    }
}
