use std::path::{Path, PathBuf};

use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

use domain::clock::{UnixTime, rfc3339};
use domain::delivery::{Channel, DeliveryError, DeliveryFuture, Message, Notifier};

/// Writes messages to `outbox.jsonl`, one JSON object a line, appended and flushed before
/// `send` returns so that nothing reported as sent is lost.
pub struct Outbox {
    path: PathBuf,
    lock: Mutex<()>,
}

#[derive(Serialize)]
struct Line<'a> {
    channel: Channel,
    to: &'a str,
    subject: Option<&'a str>,
    body: &'a str,
    code: Option<&'a str>,
    at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    keypad_url: Option<&'a str>,
}

impl Outbox {
    pub fn in_data_dir(data_dir: &Path) -> Self {
        Self {
            path: data_dir.join("outbox.jsonl"),
            lock: Mutex::new(()),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn append(&self, message: &Message, at: UnixTime) -> Result<(), DeliveryError> {
        let text = Self::line(message, at)?;
        self.write(text.as_bytes()).await
    }

    /// Many messages with one write and one sync: a bulk import's thousands of invitations
    /// would otherwise cost a sync each.
    async fn append_all(
        &self,
        messages: &[Message],
        at: UnixTime,
    ) -> Vec<Result<(), DeliveryError>> {
        let mut text = String::new();
        let mut outcomes: Vec<Result<(), DeliveryError>> = Vec::with_capacity(messages.len());
        for message in messages {
            match Self::line(message, at) {
                Ok(line) => {
                    text.push_str(&line);
                    outcomes.push(Ok(()));
                }
                Err(e) => outcomes.push(Err(e)),
            }
        }
        if text.is_empty() {
            return outcomes;
        }
        if let Err(e) = self.write(text.as_bytes()).await {
            let detail = e.to_string();
            for outcome in outcomes.iter_mut().filter(|o| o.is_ok()) {
                *outcome = Err(DeliveryError::Unavailable(detail.clone()));
            }
        }
        outcomes
    }

    fn line(message: &Message, at: UnixTime) -> Result<String, DeliveryError> {
        let line = Line {
            channel: message.channel,
            to: &message.to,
            subject: message.subject.as_deref(),
            body: &message.body,
            code: message.code.as_deref(),
            at: rfc3339(at),
            keypad_url: message.keypad_url.as_deref(),
        };
        let mut text = serde_json::to_string(&line)
            .map_err(|e| DeliveryError::Refused(format!("cannot encode message: {e}")))?;
        text.push('\n');
        Ok(text)
    }

    async fn write(&self, bytes: &[u8]) -> Result<(), DeliveryError> {
        let _guard = self.lock.lock().await;
        let unavailable = |e: std::io::Error| {
            DeliveryError::Unavailable(format!("outbox {}: {e}", self.path.display()))
        };
        let mut options = tokio::fs::OpenOptions::new();
        options.create(true).append(true);
        // Texted codes in development: readable by the service alone.
        #[cfg(unix)]
        options.mode(crate::store::files::private_file_mode());
        let mut file = options.open(&self.path).await.map_err(unavailable)?;
        file.write_all(bytes).await.map_err(unavailable)?;
        file.sync_data().await.map_err(unavailable)?;
        Ok(())
    }
}

impl Notifier for Outbox {
    fn send<'a>(&'a self, message: &'a Message, at: UnixTime) -> DeliveryFuture<'a> {
        Box::pin(self.append(message, at))
    }

    fn send_all<'a>(&'a self, messages: &'a [Message], at: UnixTime) -> super::BatchFuture<'a> {
        Box::pin(self.append_all(messages, at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_message_is_one_json_line_in_the_documented_shape() {
        let dir = tempfile::tempdir().expect("temp dir");
        let outbox = Outbox::in_data_dir(dir.path());
        let sms = Message {
            channel: Channel::Sms,
            to: "+447700900123".into(),
            subject: None,
            body: "Your NHSmal code is 123456".into(),
            code: Some("123456".into()),
            keypad_url: None,
            html: None,
        };
        outbox.send(&sms, 1_722_470_400).await.expect("sent");
        let call = Message {
            channel: Channel::Voice,
            keypad_url: Some("http://localhost:8080/keypad/abc".into()),
            code: None,
            ..sms.clone()
        };
        outbox.send(&call, 1_722_470_401).await.expect("sent");
        let text = std::fs::read_to_string(outbox.path()).expect("outbox written");
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("each line is JSON"))
            .collect();
        assert_eq!(
            lines[0],
            serde_json::json!({"channel":"sms","to":"+447700900123","subject":null,
                "body":"Your NHSmal code is 123456","code":"123456","at":"2024-08-01T00:00:00Z"})
        );
        assert_eq!(lines[1]["channel"], "voice");
        assert_eq!(lines[1]["keypad_url"], "http://localhost:8080/keypad/abc");
        assert_eq!(lines[1]["code"], serde_json::Value::Null);
    }

    #[tokio::test]
    async fn an_email_line_keeps_to_the_contract_without_its_html() {
        let dir = tempfile::tempdir().expect("temp dir");
        let outbox = Outbox::in_data_dir(dir.path());
        let email = Message {
            channel: Channel::Email,
            to: "ann@example.nhs.uk".into(),
            subject: Some("Your NHSmal password has been changed".into()),
            body: "Dear Ann,".into(),
            code: None,
            keypad_url: None,
            html: Some("<p>Dear Ann,</p>".into()),
        };
        outbox.send(&email, 1_722_470_400).await.expect("sent");
        let text = std::fs::read_to_string(outbox.path()).expect("outbox written");
        let line: serde_json::Value = serde_json::from_str(text.trim()).expect("JSON");
        assert_eq!(
            line,
            serde_json::json!({"channel":"email","to":"ann@example.nhs.uk",
                "subject":"Your NHSmal password has been changed","body":"Dear Ann,",
                "code":null,"at":"2024-08-01T00:00:00Z"})
        );
    }
}
