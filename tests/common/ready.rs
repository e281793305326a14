//! The first line a demo program prints, `READY {json}`, read within a bound: shared by the
//! support modules of test crates that do not all include `common`.

use std::io::{BufRead, BufReader};
use std::process::Child;
use std::time::Duration;

/// The JSON of `child`'s READY line (its stdout must be piped); kills the child and fails the
/// test naming `what` if none comes within `timeout`.
pub fn ready_json(child: &mut Child, what: &str, timeout: Duration) -> serde_json::Value {
    let stdout = child.stdout.take().expect("a piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = match rx.recv_timeout(timeout) {
        Ok(l) => l,
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} printed no READY line within {timeout:?}");
        }
    };
    let json = line
        .strip_prefix("READY ")
        .unwrap_or_else(|| panic!("bad READY line {line:?}"));
    serde_json::from_str(json.trim()).expect("READY json")
}
