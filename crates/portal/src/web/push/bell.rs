//! Wakes the apps' event streams. A request created on this node rings at once; requests
//! created on other nodes (several nodes on one PostgreSQL) are found by polling the shared
//! table twice a second, which costs one indexed query per node rather than one per app.
//! LISTEN/NOTIFY would save the half second, but only on PostgreSQL, and the same code must
//! run on both stores; nothing is lost by polling, since streams read their requests from the
//! table whenever they wake.

use std::time::Duration;

use tokio::sync::watch;

use domain::mfa::push::PushRecords;

/// How often a node looks for requests created elsewhere.
pub const POLL: Duration = Duration::from_millis(500);

/// A generation counter the streams wait on, and whether the node is shutting down.
pub struct PushBell {
    tx: watch::Sender<(u64, bool)>,
}

impl Default for PushBell {
    fn default() -> Self {
        Self {
            tx: watch::channel((0, false)).0,
        }
    }
}

impl PushBell {
    /// Something may have changed: every stream looks again.
    pub fn ring(&self) {
        self.tx.send_modify(|(generation, _)| *generation += 1);
    }

    /// The node is stopping: streams end, so that the server's graceful shutdown does not
    /// wait on them (the apps reconnect to another node).
    pub fn close(&self) {
        self.tx.send_modify(|(_, closing)| *closing = true);
    }

    pub fn subscribe(&self) -> watch::Receiver<(u64, bool)> {
        self.tx.subscribe()
    }

    /// How many streams are connected to this node.
    pub fn listeners(&self) -> usize {
        self.tx.receiver_count()
    }
}

/// Polls the store for requests created on any node and rings when the pending set changed.
pub fn start_poller(app: &crate::web::AppState) -> tokio::task::JoinHandle<()> {
    let app = app.clone();
    tokio::spawn(async move {
        let mut last = None;
        loop {
            // Nobody listening on this node: nothing to wake, and no query. (A listener's
            // stream reads the table itself when it starts.)
            if app.push_bell.listeners() == 0 {
                last = None;
                tokio::time::sleep(POLL).await;
                continue;
            }
            match app.store.push_marker().await {
                Ok(marker) => {
                    if last.as_ref() != Some(&marker) {
                        app.push_bell.ring();
                    }
                    last = Some(marker);
                }
                Err(e) => tracing::warn!(error = %e, "push requests not polled; trying again"),
            }
            tokio::time::sleep(POLL).await;
        }
    })
}
