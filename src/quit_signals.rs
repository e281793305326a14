//! SIGINT, SIGTERM and SIGHUP as messages. A front end holding a traced process must end through
//! its own detach (every byte restored, every debug register cleared), not die with the target
//! stopped and full of int3 bytes: the signals are taken by a thread of their own and sent on
//! as the signal's name.

use crossbeam_channel::Sender;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::{Handle, Signals};

/// Starts the thread that sends `wrap(name)` to `tx` for each of the three signals, until
/// the receiver is gone or the returned handle is closed.
pub fn forward<T: Send + 'static>(
    tx: Sender<T>,
    wrap: fn(&'static str) -> T,
) -> std::io::Result<Handle> {
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    let handle = signals.handle();
    std::thread::Builder::new()
        .name("ptscope-signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                let name = match sig {
                    SIGINT => "SIGINT",
                    SIGTERM => "SIGTERM",
                    _ => "SIGHUP",
                };
                if tx.send(wrap(name)).is_err() {
                    return;
                }
            }
        })?;
    Ok(handle)
}
