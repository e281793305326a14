//! `ptscope __hold PID ADDR [--watch]`: a tracer that stops the process on a breakpoint (or a
//! write watchpoint) and then rests, holding it stopped until killed. Tests kill it with
//! SIGKILL to check that a process at rest under ptscope survives the sudden death of its
//! tracer, debug registers included.

use crate::tracer::{Command, EventKind, Options, StopCause, TracerHandle, WatchKind};
use std::io::Read;
use std::time::{Duration, Instant};

pub fn run(pid: i32, addr: u64, watch: bool) -> i32 {
    let h = match TracerHandle::attach(pid, Options::default()) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("ptscope: {e}");
            return 1;
        }
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut breakpoint_set = false;
    while Instant::now() < deadline {
        let Ok(ev) = h.events().recv_timeout(Duration::from_millis(100)) else {
            continue;
        };
        let EventKind::AllStopped(snap) = ev.kind else {
            continue;
        };
        let (set, cause) = if watch {
            (
                Command::AddWatchpoint {
                    addr,
                    kind: WatchKind::Write,
                    len: None,
                },
                StopCause::Watchpoint { addr },
            )
        } else {
            (
                Command::AddBreakpoint { addr },
                StopCause::Breakpoint { addr },
            )
        };
        if !breakpoint_set {
            if let Err(e) = h.call(set) {
                eprintln!("ptscope: {e}");
                return 1;
            }
            breakpoint_set = true;
        } else if let Some(t) = snap
            .threads
            .iter()
            .find(|t| Some(t.tid) == snap.stopped_by && t.cause == Some(cause))
        {
            println!("HELD {}", t.tid);
            // Rest until killed (or until stdin closes, then let go properly).
            let _ = std::io::stdin().read(&mut [0u8; 1]);
            return 0;
        }
        if let Err(e) = h.call(Command::Continue) {
            eprintln!("ptscope: {e}");
            return 1;
        }
    }
    eprintln!("ptscope: no hit at {addr:#x} in time");
    1
}
