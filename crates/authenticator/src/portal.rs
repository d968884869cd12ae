//! Talking to an NHSmal Portal: pairing with an activation code, reading pending requests,
//! the long-lived event stream (server-sent events), and signed answers. The device key never
//! leaves this process; the server sees its public half and signatures.

use std::io::{BufRead, BufReader};
use std::sync::mpsc::Sender;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::vault::Device;

#[derive(Debug, thiserror::Error)]
pub enum PortalError {
    /// The portal said no, in its own words (a used code, a removed device, a late answer).
    #[error("{0}")]
    Refused(String),
    #[error("cannot reach {server}: {reason}")]
    Unreachable { server: String, reason: String },
    #[error("the portal's answer was not understood: {0}")]
    Garbled(String),
}

/// A request as the portal describes it to the app: never the number.
#[derive(Debug, Clone, Deserialize)]
pub struct PushRequest {
    pub id: String,
    pub nonce: String,
    pub expires_at: i64,
    #[serde(default)]
    pub silent: bool,
    pub action: String,
    pub app: String,
    pub location: String,
    pub ip: String,
    pub browser: String,
    pub at: i64,
}

/// What pairing gave this device before its test request is answered.
pub struct Offered {
    pub device: Device,
    pub totp_uri: String,
    pub request: PushRequest,
}

fn client(timeout: Option<Duration>) -> Result<reqwest::blocking::Client, PortalError> {
    reqwest::blocking::Client::builder()
        .timeout(timeout)
        .user_agent(concat!("nhsmal-authenticator/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| PortalError::Garbled(e.to_string()))
}

fn unreachable(server: &str, e: reqwest::Error) -> PortalError {
    PortalError::Unreachable {
        server: server.to_string(),
        reason: e.without_url().to_string(),
    }
}

/// The JSON of a response, or the portal's own message when it refused.
fn json_of(server: &str, r: reqwest::blocking::Response) -> Result<Value, PortalError> {
    let status = r.status();
    let body: Value = r.json().map_err(|e| unreachable(server, e))?;
    if status.is_success() {
        return Ok(body);
    }
    let message = body["message"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| format!("the portal answered {status}"));
    Err(PortalError::Refused(message))
}

/// Splits what a person pasted: an activation link (`https://portal/pair#CODE`) gives both the
/// server and the code; a bare code needs `server`.
pub fn activation(input: &str, server: Option<&str>) -> Option<(String, String)> {
    let input = input.trim();
    if let Some((address, code)) = input.split_once('#') {
        let base = address.strip_suffix("/pair").unwrap_or(address);
        if base.starts_with("http://") || base.starts_with("https://") {
            return Some((base.trim_end_matches('/').to_string(), code.to_string()));
        }
        return None;
    }
    server.map(|s| (s.trim_end_matches('/').to_string(), input.to_string()))
}

fn new_key() -> Result<SigningKey, PortalError> {
    // A random scalar is valid unless it is zero or not below the curve's order: vanishingly
    // rare, but tried again rather than assumed.
    for _ in 0..8 {
        let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
        getrandom::fill(bytes.as_mut()).map_err(|e| PortalError::Garbled(e.to_string()))?;
        if let Ok(key) = SigningKey::from_slice(bytes.as_ref()) {
            return Ok(key);
        }
    }
    Err(PortalError::Garbled("no usable device key".into()))
}

fn key_of(device: &Device) -> Result<SigningKey, PortalError> {
    let bytes = zeroize::Zeroizing::new(
        B64.decode(&device.key)
            .map_err(|_| PortalError::Garbled("the stored device key is damaged".into()))?,
    );
    SigningKey::from_slice(&bytes)
        .map_err(|_| PortalError::Garbled("the stored device key is damaged".into()))
}

/// Presents the activation code with a new device key.
pub fn pair(server: &str, code: &str, name: &str) -> Result<Offered, PortalError> {
    let key = new_key()?;
    let public = URL_SAFE_NO_PAD.encode(key.verifying_key().to_sec1_bytes());
    let r = client(Some(Duration::from_secs(30)))?
        .post(format!("{server}/api/v1/push/pair"))
        .json(&json!({"activation_code": code, "alg": "ES256", "public_key": public, "name": name}))
        .send()
        .map_err(|e| unreachable(server, e))?;
    let body = json_of(server, r)?;
    let text = |k: &str| {
        body[k]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| PortalError::Garbled(format!("no {k}")))
    };
    let account = text("account")?;
    let issuer = text("issuer")?;
    let secret = text("totp_secret")?;
    let request = serde_json::from_value(body["request"].clone())
        .map_err(|e| PortalError::Garbled(e.to_string()))?;
    Ok(Offered {
        device: Device {
            server: server.to_string(),
            device_id: text("device_id")?,
            token: text("token")?,
            key: B64.encode(key.to_bytes()),
            account: account.clone(),
            name: name.to_string(),
        },
        totp_uri: format!("otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}"),
        request,
    })
}

/// Every pending request of this device (the ones not announced included).
pub fn requests(device: &Device) -> Result<Vec<PushRequest>, PortalError> {
    let r = client(Some(Duration::from_secs(30)))?
        .get(format!("{}/api/v1/push/requests", device.server))
        .bearer_auth(&device.token)
        .send()
        .map_err(|e| unreachable(&device.server, e))?;
    let body = json_of(&device.server, r)?;
    serde_json::from_value(body["requests"].clone())
        .map_err(|e| PortalError::Garbled(e.to_string()))
}

/// Answers a request: `decision` is approve, deny or report; `number` what the person typed.
/// Returns the portal's words about the outcome and its result code.
pub fn answer(
    device: &Device,
    request: &PushRequest,
    decision: &str,
    number: &str,
) -> Result<(String, String), PortalError> {
    let key = key_of(device)?;
    let message = format!(
        "nhsmal-push-v1\n{}\n{number}\n{}\n{decision}",
        request.id, request.nonce
    );
    let signature: Signature = key.sign(message.as_bytes());
    let r = client(Some(Duration::from_secs(30)))?
        .post(format!(
            "{}/api/v1/push/requests/{}/answer",
            device.server, request.id
        ))
        .bearer_auth(&device.token)
        .json(&json!({
            "decision": decision,
            "number": number,
            "signature": URL_SAFE_NO_PAD.encode(signature.to_bytes()),
        }))
        .send()
        .map_err(|e| unreachable(&device.server, e))?;
    let body = json_of(&device.server, r)?;
    Ok((
        body["result"].as_str().unwrap_or_default().to_string(),
        body["message"].as_str().unwrap_or_default().to_string(),
    ))
}

/// Listens to the device's event stream and sends each request to `out`, reconnecting (after
/// a pause that grows to 30 s) whenever the stream ends: the portal ends streams every few
/// minutes and when a node stops. Returns only when the device is refused (removed) or `out`
/// is closed.
pub fn listen(device: &Device, out: &Sender<(usize, PushRequest)>, index: usize) -> PortalError {
    let mut pause = Duration::from_secs(1);
    loop {
        match stream_once(device, out, index) {
            Ok(()) => pause = Duration::from_secs(1),
            Err(e @ PortalError::Refused(_)) => return e,
            Err(PortalError::Garbled(e)) if e == "closed" => return PortalError::Garbled(e),
            Err(_) => pause = (pause * 2).min(Duration::from_secs(30)),
        }
        std::thread::sleep(pause);
    }
}

fn stream_once(
    device: &Device,
    out: &Sender<(usize, PushRequest)>,
    index: usize,
) -> Result<(), PortalError> {
    let r = client(None)?
        .get(format!("{}/api/v1/push/events", device.server))
        .bearer_auth(&device.token)
        .header("accept", "text/event-stream")
        .send()
        .map_err(|e| unreachable(&device.server, e))?;
    if !r.status().is_success() {
        json_of(&device.server, r)?;
        return Ok(());
    }
    let mut event = String::new();
    let mut data = String::new();
    for line in BufReader::new(r).lines() {
        let line = line.map_err(|e| PortalError::Unreachable {
            server: device.server.clone(),
            reason: e.to_string(),
        })?;
        if line.is_empty() {
            if event == "request"
                && let Ok(request) = serde_json::from_str::<PushRequest>(&data)
                && out.send((index, request)).is_err()
            {
                return Err(PortalError::Garbled("closed".into()));
            }
            event.clear();
            data.clear();
        } else if let Some(v) = line.strip_prefix("event:") {
            event = v.trim().to_string();
        } else if let Some(v) = line.strip_prefix("data:") {
            data.push_str(v.trim_start());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_activation_link_gives_the_server_and_the_code() {
        assert_eq!(
            activation("https://portal.nhsmal.uk/pair#K7QMD-4XR2P", None),
            Some(("https://portal.nhsmal.uk".into(), "K7QMD-4XR2P".into()))
        );
        assert_eq!(
            activation("K7QMD-4XR2P", Some("http://127.0.0.1:8080/")),
            Some(("http://127.0.0.1:8080".into(), "K7QMD-4XR2P".into()))
        );
        assert_eq!(activation("K7QMD-4XR2P", None), None);
        assert_eq!(activation("ftp://x/pair#A", None), None);
    }
}
