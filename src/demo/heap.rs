//! `ptscope __demo heap [--mb N] [--threads K] [--ticker]`: a process whose memory is known
//! word for word, for core file tests and the core-vs-gcore benchmark.
//!
//! - N MiB of heap (default 16), every 8-byte word holding its own address XOR `MAGIC`;
//! - `MARKER`, a word in the binary's writable data, set at start to a value made from the
//!   pid (so it is not what the file holds);
//! - K threads (default 2) named `worker-I`, parked in `ptscope_heap_park` under
//!   `ptscope_heap_worker`, each with `XMM_MARK` in xmm5 and `MXCSR_MARK` in MXCSR (what a
//!   core file's FP register notes must show);
//! - with `--ticker`, a thread waking every millisecond that keeps the longest gap it saw:
//!   the pause as the process itself felt it.
//!
//! - a `control` thread reading commands, while the main thread waits on it.
//!
//! Prints `READY {"pid":..,"heap":"0x..","words":..,"magic":"0x..","marker":"0x..",
//! "marker_value":"0x..","tids":[..]}`, then answers on stdin: `gap` (`gap US`, the longest
//! gap since the last `gap`), `check` (`check ok` when every heap word still holds its
//! value, else `check bad ADDR`), `exit-leader` (`exit-leader`, then the main thread leaves
//! with exit(2) and the process lives on with a zombie leader), `quit`.

use std::hint::black_box;
use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub const MAGIC: u64 = 0x5054_5343_4f52_4521;

/// Non-zero at build time, so it lives in .data (a file-backed mapping), not .bss.
pub static MARKER: AtomicU64 = AtomicU64::new(0x1111_1111_1111_1111);
static MAX_GAP_US: AtomicU64 = AtomicU64::new(0);

/// In xmm5 of every parked worker.
pub const XMM_MARK: u64 = 0x5054_5343_584d_4d35;
/// The MXCSR of every parked worker: rounding toward zero, all exceptions masked.
pub const MXCSR_MARK: u32 = 0x7f80;

#[no_mangle]
#[inline(never)]
pub extern "C" fn ptscope_heap_park() {
    let csr = MXCSR_MARK;
    // SAFETY: ldmxcsr reads the 4 bytes of a live local; the value is a valid MXCSR (no
    // reserved bit set). This thread does no floating point afterwards.
    unsafe { std::arch::asm!("ldmxcsr [{}]", in(reg) &csr, options(nostack, readonly)) };
    loop {
        // SAFETY: pause(2) as a raw system call, so that xmm5 holds the marker while the
        // thread sleeps: `syscall` clobbers rcx and r11 and returns in rax, and xmm5 is
        // declared clobbered; pause returns only after a signal handler ran.
        unsafe {
            std::arch::asm!(
                "movq xmm5, {mark}",
                "syscall",
                mark = in(reg) XMM_MARK,
                inlateout("rax") libc::SYS_pause => _,
                lateout("rcx") _,
                lateout("r11") _,
                out("xmm5") _,
                options(nostack),
            )
        };
    }
}

#[no_mangle]
#[inline(never)]
pub extern "C" fn ptscope_heap_worker(i: u64) {
    black_box(i);
    ptscope_heap_park();
}

fn say(line: &str) {
    // One write(2) per line.
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(format!("{line}\n").as_bytes());
    let _ = out.flush();
}

fn gettid() -> i32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() }
}

fn arg(args: &[String], name: &str, default: u64) -> u64 {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

fn spawn(name: String, body: impl FnOnce() + Send + 'static) -> i32 {
    let (tx, rx) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new().name(name).spawn(move || {
        let _ = tx.send(gettid());
        body();
    });
    match spawned {
        Ok(_) => rx.recv().unwrap_or(-1),
        Err(_) => -1,
    }
}

fn ticker() {
    let mut last = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(1));
        let now = Instant::now();
        let gap = now.duration_since(last).as_micros() as u64;
        MAX_GAP_US.fetch_max(gap, Ordering::Relaxed);
        last = now;
    }
}

fn first_bad(heap: &[u64]) -> Option<usize> {
    heap.iter()
        .position(|w| *w != (w as *const u64 as u64) ^ MAGIC)
}

pub fn run(args: &[String]) -> i32 {
    let words = (arg(args, "--mb", 16) << 20) as usize / 8;
    let mut heap = vec![0u64; words].into_boxed_slice();
    for w in heap.iter_mut() {
        *w = (w as *mut u64 as u64) ^ MAGIC;
    }
    let marker_value = (u64::from(std::process::id()) << 32) ^ MAGIC;
    MARKER.store(marker_value, Ordering::SeqCst);

    let heap: &'static [u64] = Box::leak(heap);
    let mut tids = vec![gettid()];
    for i in 0..arg(args, "--threads", 2) {
        tids.push(spawn(format!("worker-{i}"), move || ptscope_heap_worker(i)));
    }
    if args.iter().any(|a| a == "--ticker") {
        tids.push(spawn("ticker".into(), ticker));
    }
    let (leave_tx, leave_rx) = std::sync::mpsc::channel::<()>();
    tids.push(spawn("control".into(), move || control(heap, leave_tx)));
    say(&format!(
        "READY {{\"pid\":{},\"heap\":\"{:#x}\",\"words\":{},\"magic\":\"{MAGIC:#x}\",\
         \"marker\":\"{:#x}\",\"marker_value\":\"{marker_value:#x}\",\"tids\":{tids:?}}}",
        std::process::id(),
        heap.as_ptr() as usize,
        heap.len(),
        &MARKER as *const AtomicU64 as usize,
    ));
    MAX_GAP_US.store(0, Ordering::Relaxed);
    if leave_rx.recv().is_ok() {
        // exit(2) of the main thread alone, not exit_group(2): the process lives on with a
        // zombie leader, as after pthread_exit in main.
        // SAFETY: SYS_exit ends only this thread; nothing of it is used afterwards.
        unsafe { libc::syscall(libc::SYS_exit, 0) };
    }
    // The control thread ended (stdin closed): so does the program.
    0
}

fn control(heap: &'static [u64], leave: std::sync::mpsc::Sender<()>) {
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        match line.trim() {
            "gap" => say(&format!("gap {}", MAX_GAP_US.swap(0, Ordering::Relaxed))),
            "check" => match first_bad(heap) {
                None => say("check ok"),
                Some(i) => say(&format!("check bad {:#x}", &heap[i] as *const u64 as usize)),
            },
            "exit-leader" => {
                say("exit-leader");
                let _ = leave.send(());
            }
            "quit" => std::process::exit(0),
            _ => say("?"),
        }
    }
    std::process::exit(0);
}
