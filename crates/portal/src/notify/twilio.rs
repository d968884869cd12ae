//! Twilio for text messages and calls, through its REST API (basic auth with the account SID
//! and auth token; form-encoded Messages.json and Calls.json). A call reads the script in a
//! TwiML `<Gather>` whose answer Twilio posts to our keypad callback, signed with
//! `X-Twilio-Signature` (HMAC-SHA1 of the URL and the sorted form fields), which we verify.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};

use domain::clock::UnixTime;
use domain::delivery::{Channel, DeliveryError, DeliveryFuture, Message, Notifier};

pub struct Twilio {
    client: reqwest::Client,
    base_url: String,
    account_sid: String,
    auth_token: String,
    from: String,
}

impl Twilio {
    pub fn new(
        base_url: &str,
        account_sid: &str,
        auth_token: &str,
        from: &str,
    ) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            client,
            base_url: base_url.trim_end_matches('/').to_string(),
            account_sid: account_sid.to_string(),
            auth_token: auth_token.to_string(),
            from: from.to_string(),
        })
    }

    async fn deliver(&self, message: &Message) -> Result<(), DeliveryError> {
        let (resource, content) = match message.channel {
            Channel::Sms => ("Messages.json", ("Body", message.body.clone())),
            Channel::Voice => {
                let keypad = message
                    .keypad_url
                    .as_deref()
                    .ok_or_else(|| DeliveryError::Refused("a call needs a keypad URL".into()))?;
                (
                    "Calls.json",
                    (
                        "Twiml",
                        call_twiml(&message.body, &twilio_keypad_url(keypad)),
                    ),
                )
            }
            Channel::Email => {
                return Err(DeliveryError::Refused(
                    "Twilio is not used for email".into(),
                ));
            }
        };
        let response = self
            .client
            .post(format!(
                "{}/2010-04-01/Accounts/{}/{resource}",
                self.base_url, self.account_sid
            ))
            .basic_auth(&self.account_sid, Some(&self.auth_token))
            .form(&[
                ("To", message.to.as_str()),
                ("From", self.from.as_str()),
                (content.0, content.1.as_str()),
            ])
            .send()
            .await
            .map_err(|e| DeliveryError::Unavailable(format!("Twilio: {e}")))?;
        super::notify_uk::classify("Twilio", response).await
    }
}

impl Notifier for Twilio {
    fn send<'a>(&'a self, message: &'a Message, _at: UnixTime) -> DeliveryFuture<'a> {
        Box::pin(self.deliver(message))
    }
}

/// Our keypad URL as Twilio's callback: the same token under /telephony/twilio/keypad.
pub fn twilio_keypad_url(keypad_url: &str) -> String {
    keypad_url.replacen("/telephony/keypad/", "/telephony/twilio/keypad/", 1)
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The call: the script inside a Gather with no finish key, so "#" itself is collected: "0#"
/// arrives at once (two digits), "#" alone after a 3-second pause. (A Gather that finished on #
/// would send nothing for a bare "#".)
pub fn call_twiml(script: &str, action: &str) -> String {
    let say = xml_escape(script);
    let action = xml_escape(action);
    format!(
        "<Response><Gather input=\"dtmf\" finishOnKey=\"\" numDigits=\"2\" timeout=\"3\" action=\"{action}\" method=\"POST\"><Say language=\"en-GB\">{say}</Say></Gather><Say language=\"en-GB\">We did not receive a response. Goodbye.</Say></Response>"
    )
}

/// Twilio's request signature: base64(HMAC-SHA1(auth token, URL + each POST field name and
/// value, sorted by name)). Compared in constant time.
pub fn signature_is_valid(
    auth_token: &str,
    url: &str,
    fields: &[(String, String)],
    signature: &str,
) -> bool {
    let mut sorted: Vec<&(String, String)> = fields.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut data = url.to_string();
    for (k, v) in sorted {
        data.push_str(k);
        data.push_str(v);
    }
    let Ok(mut mac) = <Hmac<sha1::Sha1> as Mac>::new_from_slice(auth_token.as_bytes()) else {
        return false;
    };
    mac.update(data.as_bytes());
    let Ok(given) = STANDARD.decode(signature.trim()) else {
        return false;
    };
    mac.verify_slice(&given).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example in Twilio's security documentation (value cross-checked with Python's hmac).
    #[test]
    fn signatures_are_checked_as_twilio_documents_them() {
        let fields: Vec<(String, String)> = [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        assert!(signature_is_valid(
            "12345",
            url,
            &fields,
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        ));
        assert!(!signature_is_valid(
            "12345",
            url,
            &fields,
            "0/KCTR6DLpKmkAf8muzZqo1nDgR="
        ));
        assert!(!signature_is_valid(
            "wrong",
            url,
            &fields,
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        ));
    }

    #[test]
    fn the_call_gathers_the_keypress_and_escapes_the_script() {
        let twiml = call_twiml("Press # & go", "https://portal/telephony/twilio/keypad/abc");
        assert!(twiml.contains("finishOnKey=\"\"") && twiml.contains("numDigits=\"2\""));
        assert!(twiml.contains("Press # &amp; go"));
        assert!(twiml.contains("action=\"https://portal/telephony/twilio/keypad/abc\""));
    }
}
