//! SIGINT and SIGTERM start the graceful drain.

use std::io;
use std::thread;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use signal_hook::low_level::signal_name;
use tracing::info;

/// Calls `start_drain` on a dedicated thread when SIGINT or SIGTERM first
/// arrives. From now on neither signal kills the process: the drain is
/// bounded by `drain_timeout`, so a second one is only acknowledged.
pub(crate) fn on_termination(start_drain: impl FnOnce() + Send + 'static) -> io::Result<()> {
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    thread::Builder::new()
        .name("signals".to_owned())
        .spawn(move || {
            let mut start_drain = Some(start_drain);
            for signal in signals.forever() {
                let signal = signal_name(signal).unwrap_or("signal");
                match start_drain.take() {
                    Some(start_drain) => {
                        info!(signal, "draining: no new connections, flushing queues");
                        start_drain();
                    }
                    None => info!(signal, "already draining; exiting within drain_timeout"),
                }
            }
        })?;
    Ok(())
}
