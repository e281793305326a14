//! `ptscope __demo steps`: two threads walking through code whose lines and calls are known,
//! for the code pane and the stepping commands (`o`, `f`, `l`, `b FILE:LINE`).
//!
//! Each thread loops: `ptscope_steps_lines` (three lines, the middle one a call with a side
//! effect: the thread's own counter in `EFFECTS` goes up), then `ptscope_steps_depth(3)` (a
//! recursion, so a finish must tell its frames apart by their stack pointers), then a short
//! sleep. Tests find the lines by the `// line:` markers below, so editing this file moves
//! nothing they rely on.
//!
//! Prints `READY {"pid":..,"tids":[A, B],"effects":"0x.."}` once both threads run: thread A
//! counts in `EFFECTS[0]`, B in `EFFECTS[1]`.

use std::hint::black_box;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// What the call on the middle line does, one counter per thread: a step over it must leave
/// the stepping thread's counter one higher.
pub static EFFECTS: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];

#[no_mangle]
#[inline(never)]
pub extern "C" fn ptscope_steps_effect(x: u64, who: usize) -> u64 {
    EFFECTS[who % 2].fetch_add(1, Ordering::SeqCst); // line: effect
    black_box(x).wrapping_mul(2)
}

// line: nocode
#[no_mangle]
#[inline(never)]
pub extern "C" fn ptscope_steps_lines(x: u64, who: usize) -> u64 {
    let a = black_box(x).wrapping_add(1); // line: first
    let b = ptscope_steps_effect(a, who); // line: call
    black_box(b ^ 0x5a) // line: after
}

#[no_mangle]
#[inline(never)]
pub extern "C" fn ptscope_steps_depth(n: u64, who: usize) -> u64 {
    if black_box(n) == 0 {
        return ptscope_steps_effect(1, who);
    }
    let below = ptscope_steps_depth(n - 1, who); // line: recurse
    black_box(below).wrapping_add(1)
}

fn walk(who: usize) -> ! {
    let mut x = 0u64;
    loop {
        x = ptscope_steps_lines(x, who);
        x = x.wrapping_add(ptscope_steps_depth(3, who));
        std::thread::sleep(Duration::from_millis(1));
    }
}

pub fn run(_args: &[String]) -> i32 {
    let (tx, rx) = std::sync::mpsc::channel();
    for (who, name) in ["steps-a", "steps-b"].into_iter().enumerate() {
        let tx = tx.clone();
        let spawned = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                // SAFETY: gettid has no preconditions.
                let _ = tx.send((who, unsafe { libc::gettid() }));
                walk(who)
            });
        if let Err(e) = spawned {
            eprintln!("steps: cannot start {name}: {e}");
            return 1;
        }
    }
    let mut tids = [0i32; 2];
    for (who, tid) in rx.iter().take(2) {
        tids[who] = tid;
    }
    let ready = serde_json::json!({
        "pid": std::process::id(),
        "tids": tids,
        "effects": format!("{:#x}", EFFECTS.as_ptr() as usize),
    });
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "READY {ready}");
    let _ = out.flush();
    drop(out);
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}
