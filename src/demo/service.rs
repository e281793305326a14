//! The demo target (`ptscope __demo demo`): a small process with something to watch in every
//! pane. Workers call a named function in a loop (a first breakpoint), one thread waits on a
//! lock forever, short-lived threads are born and die every second, and one thread raises a
//! signal it handles every second.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

pub static HOT_CALLS: AtomicU64 = AtomicU64::new(0);
static USR1_HANDLED: AtomicU64 = AtomicU64::new(0);

/// The function worth a breakpoint: `b ptscope_demo_hot` in the UI.
#[no_mangle]
#[inline(never)]
pub extern "C" fn ptscope_demo_hot(x: u64) -> u64 {
    HOT_CALLS.fetch_add(1, Ordering::Relaxed);
    std::hint::black_box(x)
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .rotate_left(7)
}

pub fn hot_address() -> u64 {
    ptscope_demo_hot as *const () as usize as u64
}

extern "C" fn on_usr1(_: libc::c_int) {
    USR1_HANDLED.fetch_add(1, Ordering::Relaxed);
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) {
    if let Err(e) = thread::Builder::new().name(name.to_string()).spawn(f) {
        eprintln!("demo: cannot start {name}: {e}");
    }
}

/// `args`: optional `--seconds N` to end by itself (tests use it so nothing outlives them).
pub fn run(args: &[String]) -> i32 {
    let seconds = match args {
        [] => None,
        [flag, n] if flag == "--seconds" => match n.parse::<u64>() {
            Ok(n) => Some(n),
            Err(_) => {
                eprintln!("demo: --seconds wants a number, not {n:?}");
                return 2;
            }
        },
        _ => {
            eprintln!("demo: usage: ptscope __demo demo [--seconds N]");
            return 2;
        }
    };
    println!(
        "demo: pid {} ptscope_demo_hot at {:#x}",
        std::process::id(),
        hot_address()
    );

    for i in 1..=3u64 {
        spawn(&format!("worker-{i}"), move || {
            let mut x = i;
            loop {
                for _ in 0..1000 {
                    x = ptscope_demo_hot(x);
                }
                thread::sleep(Duration::from_millis(20 * i));
            }
        });
    }

    // The main thread holds this lock for good, so `waiter` sits in futex_wait forever.
    let lock = Arc::new(Mutex::new(0u64));
    let _held = lock.lock();
    let waiting = lock.clone();
    spawn("waiter", move || {
        let _never = waiting.lock();
    });

    spawn("signaller", || {
        // SAFETY: the handler only touches an atomic; sigaction is given a zeroed, filled-in
        // struct as its C signature wants.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_usr1 as *const () as usize;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut());
        }
        loop {
            thread::sleep(Duration::from_secs(1));
            // raise(3) sends to the calling thread, so this thread shows the signal stop.
            // SAFETY: raise has no memory preconditions; SIGUSR1 has a handler installed above.
            unsafe { libc::raise(libc::SIGUSR1) };
        }
    });

    let start = Instant::now();
    let mut born = 0u64;
    loop {
        for _ in 0..2 {
            born += 1;
            spawn(&format!("ephemeral-{}", born % 100), || {
                thread::sleep(Duration::from_millis(400));
            });
        }
        thread::sleep(Duration::from_secs(1));
        if seconds.is_some_and(|s| start.elapsed() >= Duration::from_secs(s)) {
            println!(
                "demo: done, {} hot calls, {} SIGUSR1 handled",
                HOT_CALLS.load(Ordering::Relaxed),
                USR1_HANDLED.load(Ordering::Relaxed)
            );
            return 0;
        }
    }
}
