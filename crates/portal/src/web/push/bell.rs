//! Wakes the apps' event streams. A request created on this node rings at once; requests
//! created on other nodes (several nodes on one PostgreSQL) are found by polling the shared
//! table twice a second, which costs one indexed query per node rather than one per app.
//! LISTEN/NOTIFY would save the half second, but only on PostgreSQL, and the same code must
//! run on both stores; nothing is lost by polling, since streams read their requests from the
//! table whenever they wake.
//!
//! A ring names the devices that have something new, so only their streams look: waking every
//! stream for every request would make a node with 200 connected apps run 400 queries for each
//! sign-in anywhere.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use domain::mfa::push::PushRecords;

/// How often a node looks for requests created elsewhere.
pub const POLL: Duration = Duration::from_millis(500);

/// What a stream waits on: a generation counter, the devices the last ring was for, and
/// whether the node is shutting down.
#[derive(Clone, Debug, Default)]
pub struct Chime {
    pub generation: u64,
    devices: Arc<HashSet<String>>,
    pub closing: bool,
}

impl Chime {
    /// Whether a stream that last looked at generation `seen` must look again: the ring was for
    /// its device, or it missed a ring in between (the channel keeps only the latest).
    pub fn concerns(&self, device_id: &str, seen: u64) -> bool {
        self.generation > seen + 1 || self.devices.contains(device_id)
    }
}

/// The channel the streams of one node wait on.
pub struct PushBell {
    tx: watch::Sender<Chime>,
}

impl Default for PushBell {
    fn default() -> Self {
        Self {
            tx: watch::channel(Chime::default()).0,
        }
    }
}

impl PushBell {
    /// These devices have new requests: their streams look again.
    pub fn ring_for<I, S>(&self, devices: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let devices: HashSet<String> = devices.into_iter().map(Into::into).collect();
        if devices.is_empty() {
            return;
        }
        self.tx.send_modify(|chime| {
            chime.generation += 1;
            chime.devices = Arc::new(devices);
        });
    }

    /// The node is stopping: streams end, so that the server's graceful shutdown does not
    /// wait on them (the apps reconnect to another node).
    pub fn close(&self) {
        self.tx.send_modify(|chime| chime.closing = true);
    }

    pub fn subscribe(&self) -> watch::Receiver<Chime> {
        self.tx.subscribe()
    }

    /// How many streams are connected to this node.
    pub fn listeners(&self) -> usize {
        self.tx.receiver_count()
    }
}

/// Polls the shared table while streams are connected and rings for the devices whose pending
/// requests this node has not seen yet (wherever they were made).
pub fn start_poller(app: &crate::web::AppState) -> tokio::task::JoinHandle<()> {
    let app = app.clone();
    tokio::spawn(async move {
        let mut known: HashSet<String> = HashSet::new();
        loop {
            if app.push_bell.listeners() == 0 {
                known.clear();
                tokio::time::sleep(POLL).await;
                continue;
            }
            match app.store.pending_pushes(app.now()).await {
                Ok(pending) => {
                    let devices: Vec<&str> = pending
                        .iter()
                        .filter(|(id, _)| !known.contains(id))
                        .map(|(_, device)| device.as_str())
                        .collect();
                    app.push_bell.ring_for(devices);
                    known = pending.into_iter().map(|(id, _)| id).collect();
                }
                Err(e) => tracing::warn!(error = %e, "push requests not polled; trying again"),
            }
            tokio::time::sleep(POLL).await;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ring_concerns_only_the_devices_it_names_unless_a_ring_was_missed() {
        let bell = PushBell::default();
        let mut rx = bell.subscribe();
        bell.ring_for(["device-a"]);
        let chime = rx.borrow_and_update().clone();
        assert!(chime.concerns("device-a", 0));
        assert!(!chime.concerns("device-b", 0));
        bell.ring_for(["device-c"]);
        bell.ring_for(["device-d"]);
        // device-b last looked at generation 1 and two rings went by: it looks again.
        assert!(rx.borrow_and_update().concerns("device-b", 1));
    }

    #[test]
    fn a_ring_for_no_device_wakes_nobody() {
        let bell = PushBell::default();
        let rx = bell.subscribe();
        bell.ring_for(Vec::<String>::new());
        assert!(!rx.has_changed().unwrap_or(true));
    }
}
