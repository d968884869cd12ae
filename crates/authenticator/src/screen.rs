//! The interactive screen: waits for sign-in requests from every paired portal, shows what
//! each is for (the app being signed in to, where from, when) and asks for the number the
//! sign-in page shows, or "d" to deny, or "r" to deny and report it.

use std::io::{BufRead, Write};
use std::sync::mpsc;

use crate::AppError;
use crate::portal::{self, PortalError, PushRequest};
use crate::vault::Device;

/// This computer's name, as the portal will call the device unless told otherwise.
pub fn device_name() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty() && s.chars().count() <= 50)
        .unwrap_or_else(|| "NHSmal Authenticator".into())
}

/// Asks a question on the terminal and reads one line.
pub fn ask(question: &str) -> Result<String, AppError> {
    print!("{question}");
    std::io::stdout().flush().ok();
    let mut line = String::new();
    let read = std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| AppError::Input(format!("cannot read the answer: {e}")))?;
    if read == 0 {
        return Err(AppError::Input("no answer given".into()));
    }
    Ok(line.trim().to_string())
}

/// Hours and minutes (UTC) of a Unix time: the app carries no time zone tables.
fn clock(at: i64) -> String {
    let day = at.rem_euclid(86_400);
    format!("{:02}:{:02} UTC", day / 3600, (day % 3600) / 60)
}

#[allow(
    clippy::disallowed_methods,
    reason = "the app is not the portal: it has no injectable clock, only the device's time"
)]
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The request in words, as the screen and `requests` show it.
pub fn describe(device: &Device, r: &PushRequest) -> String {
    let left = (r.expires_at - now()).max(0);
    let mut text = format!(
        "  {} ({}) to {}, for {}\n  From: {}, address {}, {}\n  At {}; answer within {} min {} s\n",
        r.action,
        if r.silent {
            "not notified: it looked unusual"
        } else {
            "notified"
        },
        r.app,
        device.account,
        r.location,
        r.ip,
        r.browser,
        clock(r.at),
        left / 60,
        left % 60,
    );
    if r.silent {
        text.push_str("  Approve it only if you started this yourself just now.\n");
    }
    text
}

/// The request with this id on any paired portal.
pub fn find(devices: &[Device], id: &str) -> Result<(Device, PushRequest), AppError> {
    for device in devices {
        if let Some(r) = portal::requests(device)?.into_iter().find(|r| r.id == id) {
            return Ok((device.clone(), r));
        }
    }
    Err(AppError::Input(format!(
        "no request {id} is waiting (it may have been answered or have ended)"
    )))
}

/// The screen: requests as they arrive (and those already waiting, silent ones included, as
/// opening the app shows them), one at a time.
pub fn wait(devices: &[Device], once: bool) -> Result<(), AppError> {
    if devices.is_empty() {
        return Err(AppError::Input(
            "this app is not paired with a portal yet: use nhsmal-authenticator pair".into(),
        ));
    }
    let (tx, rx) = mpsc::channel::<(usize, PushRequest)>();
    for (i, device) in devices.iter().enumerate() {
        for r in portal::requests(device)? {
            let _ = tx.send((i, r));
        }
        let (device, tx) = (device.clone(), tx.clone());
        std::thread::spawn(move || {
            let why = portal::listen(&device, &tx, i);
            if let PortalError::Refused(message) = why {
                eprintln!("{} stopped sending requests: {message}", device.server);
            }
        });
    }
    drop(tx);
    println!("NHSmal Authenticator: waiting for sign-in requests. Press Ctrl+C to stop.");
    std::io::stdout().flush().ok();
    let mut answered: Vec<String> = Vec::new();
    while let Ok((i, request)) = rx.recv() {
        if answered.contains(&request.id) || request.expires_at <= now() {
            continue;
        }
        let device = &devices[i];
        println!();
        println!("Sign-in request");
        print!("{}", describe(device, &request));
        let reply = ask(
            "Type the number shown on the sign-in page to approve it, or d to deny, or r to deny and report it: ",
        )?;
        let (decision, number) = match reply.to_ascii_lowercase().as_str() {
            "d" | "deny" => ("deny", String::new()),
            "r" | "report" => ("report", String::new()),
            _ => ("approve", reply.clone()),
        };
        answered.push(request.id.clone());
        match portal::answer(device, &request, decision, &number) {
            Ok((_, message)) => println!("{message}"),
            Err(e) => println!("Not sent: {e}"),
        }
        std::io::stdout().flush().ok();
        if once {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_show_as_utc_hours_and_minutes() {
        assert_eq!(clock(0), "00:00 UTC");
        assert_eq!(clock(1_800_000_000), "08:00 UTC");
    }
}
