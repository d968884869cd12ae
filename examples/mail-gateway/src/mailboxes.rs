//! The mail itself, in memory: a stand-in for the mail store. Each mailbox starts with a
//! welcome message so that a client has something to read.

use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Default)]
pub struct Mailboxes {
    boxes: Mutex<HashMap<String, Vec<Vec<u8>>>>,
}

fn welcome(user: &str) -> Vec<u8> {
    format!(
        "From: NHSmal <no-reply@nhsmal.example>\r\nTo: {user}\r\nSubject: Welcome to NHSmal\r\n\r\nYour mailbox is ready.\r\n"
    )
    .into_bytes()
}

impl Mailboxes {
    /// The messages of `user` (lower case), oldest first.
    pub fn messages(&self, user: &str) -> Vec<Vec<u8>> {
        let user = user.to_ascii_lowercase();
        self.boxes.lock().map_or_else(
            |_| vec![],
            |mut boxes| {
                boxes
                    .entry(user.clone())
                    .or_insert_with(|| vec![welcome(&user)])
                    .clone()
            },
        )
    }

    pub fn deliver(&self, user: &str, message: Vec<u8>) {
        let user = user.to_ascii_lowercase();
        if let Ok(mut boxes) = self.boxes.lock() {
            boxes
                .entry(user.clone())
                .or_insert_with(|| vec![welcome(&user)])
                .push(message);
        }
    }
}
