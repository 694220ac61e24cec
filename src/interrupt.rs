//! Ctrl-C during apply and destroy, taken as Terraform takes it: the first stops new changes from starting and
//! lets those under way finish (their waits included), the second ends the process at once. Either way live AWS
//! is the state: every change is idempotent, and the next run picks up where this one stopped.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::style::Style;

/// The run's Ctrl-C handler, from `install` until the process ends.
pub struct Interrupt {
    requested: Arc<AtomicBool>,
    /// While the changes run: the first Ctrl-C asks them to stop starting. After: any Ctrl-C ends the process.
    graceful: Arc<AtomicBool>,
}

impl Interrupt {
    /// Takes Ctrl-C over from the default (ending the process at once) for `eksaudit <verb>`.
    pub fn install(verb: &'static str, style: Style) -> Interrupt {
        let requested = Arc::new(AtomicBool::new(false));
        let graceful = Arc::new(AtomicBool::new(true));
        let (flag, soft) = (Arc::clone(&requested), Arc::clone(&graceful));
        tokio::spawn(async move {
            // Where no handler can be installed, Ctrl-C keeps its default.
            while tokio::signal::ctrl_c().await.is_ok() {
                if soft.load(Ordering::SeqCst) && !flag.swap(true, Ordering::SeqCst) {
                    eprintln!(
                        "\n{} the changes under way finish and no new one starts; press Ctrl-C again to stop at once",
                        style.bold("Interrupt received:")
                    );
                } else {
                    eprintln!(
                        "\n{verb} stopped at once. Run `eksaudit {verb}` again: it picks up where this run stopped."
                    );
                    std::process::exit(1);
                }
            }
        });
        Interrupt { requested, graceful }
    }

    /// Whether the user asked to stop; the reconciler starts no change once it is set.
    pub fn requested(&self) -> &AtomicBool {
        &self.requested
    }

    /// The changes are over: from now on Ctrl-C ends the process at once, as by default.
    pub fn finished(&self) {
        self.graceful.store(false, Ordering::SeqCst);
    }
}
