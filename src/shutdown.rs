//! The one shutdown signal of a running relay, passed to every background task
//! (the pattern of mini-redis's `shutdown.rs`): the `serve` command fires it on
//! SIGINT/SIGTERM, and each task stops at its next await point.

use tokio::sync::watch;

/// Fires the shutdown signal; dropping it fires it too, so no task outlives its
/// owner by accident.
#[derive(Debug)]
pub struct ShutdownTrigger {
    tx: watch::Sender<bool>,
}

/// A task's view of the shutdown signal. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Shutdown {
    rx: watch::Receiver<bool>,
}

/// A new signal, not yet fired.
pub fn channel() -> (ShutdownTrigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (ShutdownTrigger { tx }, Shutdown { rx })
}

impl ShutdownTrigger {
    /// Tells every task to stop.
    pub fn fire(&self) {
        let _ = self.tx.send(true);
    }

    /// A new receiver of this signal.
    pub fn subscribe(&self) -> Shutdown {
        Shutdown {
            rx: self.tx.subscribe(),
        }
    }
}

impl Shutdown {
    /// Whether the signal has fired.
    pub fn is_fired(&self) -> bool {
        *self.rx.borrow()
    }

    /// Resolves once the signal fires (or its trigger is gone).
    pub async fn fired(&mut self) {
        // An error means the trigger was dropped, which counts as firing.
        let _ = self.rx.wait_for(|fired| *fired).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn firing_wakes_every_receiver() {
        let (trigger, mut a) = channel();
        let mut b = a.clone();
        assert!(!a.is_fired());
        trigger.fire();
        a.fired().await;
        b.fired().await;
        assert!(a.is_fired() && b.is_fired());
    }

    #[tokio::test]
    async fn a_dropped_trigger_counts_as_fired() {
        let (trigger, mut a) = channel();
        drop(trigger);
        a.fired().await;
    }
}
