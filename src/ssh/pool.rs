//! One connection per host per run, shared by every task that works on that host.

use super::session::Session;
use super::target::{SshOptions, Target};
use crate::error::{class_of, fail, ExitClass};
use crate::run::log::RunLogHandle;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{OnceCell, Semaphore};

/// A failed connect, kept so later callers get the same answer without retrying mid-run.
#[derive(Clone)]
struct Failed {
    class: ExitClass,
    message: String,
}

type Slot = Arc<OnceCell<Result<Session, Failed>>>;

pub struct Pool {
    opts: SshOptions,
    log: RunLogHandle,
    /// Bounds simultaneous handshakes (CPU-heavy key exchange, sshd's MaxStartups).
    connecting: Semaphore,
    slots: Mutex<HashMap<String, Slot>>,
}

impl Pool {
    pub fn new(o: SshOptions, log: RunLogHandle, max_parallel: usize) -> Arc<Pool> {
        Arc::new(Pool {
            opts: o,
            log,
            connecting: Semaphore::new(max_parallel.max(1)),
            slots: Mutex::new(HashMap::new()),
        })
    }

    /// The session for `t` (keyed by `t.name`). The first caller connects; concurrent callers
    /// wait for that same attempt; a failure is remembered for the rest of the run.
    pub async fn get(&self, t: &Target) -> anyhow::Result<Session> {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            slots.entry(t.name.clone()).or_default().clone()
        };
        let result = slot
            .get_or_init(|| async {
                let _permit = self
                    .connecting
                    .acquire()
                    .await
                    .expect("pool semaphore is never closed");
                Session::connect(t, &self.opts, self.log.clone())
                    .await
                    .map_err(|e| Failed {
                        class: class_of(&e),
                        message: format!("{e:#}"),
                    })
            })
            .await;
        match result {
            Ok(s) => Ok(s.clone()),
            Err(f) => Err(fail(f.class, f.message.clone())),
        }
    }

    /// Close every connection; later `get`s connect again.
    pub async fn close_all(&self) {
        let slots: Vec<Slot> = {
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            slots.drain().map(|(_, s)| s).collect()
        };
        for s in slots {
            if let Some(Ok(session)) = s.get() {
                session.close().await;
            }
        }
    }
}
