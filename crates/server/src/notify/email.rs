//! E-mail to a tenant's admins over SMTP (lettre): plain text, one message per notification with
//! every admin of the tenant as a recipient, and a `Message-ID` derived from the delivery id so
//! a repeat after a crash is recognisable as the same message.

use super::message::Brief;
use super::{Channel, Failure, Target};
use lettre::message::{header::ContentType, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{Message, SmtpTransport, Transport};
use std::time::Duration;

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain SMTP (a relay on the same host, or tests).
    None,
    /// STARTTLS on the submission port (default).
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
}

/// Validated SMTP settings.
#[derive(Debug, Clone)]
pub struct EmailSettings {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub from: Mailbox,
    pub credentials: Option<(String, String)>,
}

/// The e-mail channel.
pub struct Email {
    settings: EmailSettings,
    transport: SmtpTransport,
}

impl Email {
    pub fn new(settings: EmailSettings) -> Result<Email, String> {
        let s = &settings;
        let mut b = match s.security {
            Security::None => SmtpTransport::builder_dangerous(&s.host),
            Security::StartTls => {
                SmtpTransport::starttls_relay(&s.host).map_err(|e| e.to_string())?
            }
            Security::Tls => SmtpTransport::relay(&s.host).map_err(|e| e.to_string())?,
        }
        .port(s.port)
        .timeout(Some(Duration::from_secs(10)));
        if let Some((user, pass)) = &s.credentials {
            b = b.credentials(Credentials::new(user.clone(), pass.clone()));
        }
        let transport = b.build();
        Ok(Email {
            settings,
            transport,
        })
    }
}

impl Channel for Email {
    fn name(&self) -> &str {
        "email"
    }

    fn wants(&self, target: &Target<'_>) -> bool {
        !target.admins.is_empty()
    }

    fn send(&self, b: &Brief, target: &Target<'_>) -> Result<(), Failure> {
        let domain = self.settings.from.email.domain().to_string();
        let mut m = Message::builder()
            .from(self.settings.from.clone())
            .subject(b.subject())
            .message_id(Some(format!("<{}@{domain}>", b.delivery_id(self.name()))))
            .header(ContentType::TEXT_PLAIN);
        for a in target.admins {
            let to: Mailbox = a
                .parse()
                .map_err(|e| Failure::permanent(format!("email: admin {a:?}: {e}")))?;
            m = m.to(to);
        }
        let msg = m
            .body(b.text())
            .map_err(|e| Failure::permanent(format!("email: {e}")))?;
        self.transport.send(&msg).map(|_| ()).map_err(|e| {
            // A 5xx answer (a refused recipient, say) will not change on retry.
            let f = if e.is_permanent() {
                Failure::permanent
            } else {
                Failure::transient
            };
            f(format!("email: {e}"))
        })
    }
}
