//! The test bench target: a multithreaded process that does, on a line of stdin, one thing a
//! tracer must cope with, and says on stdout what it did. Tests read those lines with bounded
//! timeouts instead of sleeping.
//!
//! Start line: `READY {"pid":..,"hot":"0x..","counter":"0x..","usr1":"0x..","alrm":"0x..",
//! "peek":"0x..","answer":"0x..","tids":[..]}`.
//!
//! `counter` is written by the hot threads only; `peek` is read by the `peek` command only (a
//! read watch's target); `answer` is a function of ours whose bytes tests rewrite (see
//! `ptscope_lab_answer`).

use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub static HOT_CALLS: AtomicU64 = AtomicU64::new(0);
pub static USR1_SEEN: AtomicU64 = AtomicU64::new(0);
pub static TRAPS_SEEN: AtomicU64 = AtomicU64::new(0);
pub static ALRM_SEEN: AtomicU64 = AtomicU64::new(0);
/// Read by `peek`, written by nobody.
pub static PEEK_ME: AtomicU64 = AtomicU64::new(0x5eed);

// `ptscope_lab_answer`: returns 42, unless its byte at +2 (a nop, where a test puts a
// breakpoint) is rewritten to `ret` (0xc3): then it returns 0. Written in assembly so the bytes
// are known: 31 c0 (xor eax, eax), 90 (nop), b8 2a 00 00 00 (mov eax, 42), c3 (ret).
std::arch::global_asm!(
    ".pushsection .text.ptscope_lab_answer,\"ax\",@progbits",
    ".globl ptscope_lab_answer",
    ".type ptscope_lab_answer,@function",
    "ptscope_lab_answer:",
    "xor eax, eax",
    "nop",
    "mov eax, 42",
    "ret",
    ".size ptscope_lab_answer, .-ptscope_lab_answer",
    ".popsection",
);

extern "C" {
    fn ptscope_lab_answer() -> u32;
}

/// A function worth a breakpoint: called in a loop by `hot` threads.
#[no_mangle]
#[inline(never)]
pub extern "C" fn ptscope_lab_hot(x: u64) -> u64 {
    HOT_CALLS.fetch_add(1, Ordering::Relaxed);
    std::hint::black_box(x).wrapping_mul(3).wrapping_add(1)
}

fn say(line: &str) {
    // One write(2) per line so that lines from several threads never interleave.
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(format!("{line}\n").as_bytes());
    let _ = out.flush();
}

extern "C" fn on_usr1(_: libc::c_int) {
    USR1_SEEN.fetch_add(1, Ordering::SeqCst);
    let msg = b"usr1\n";
    unsafe { libc::write(1, msg.as_ptr().cast(), msg.len()) };
}

extern "C" fn on_trap(_: libc::c_int) {
    TRAPS_SEEN.fetch_add(1, Ordering::SeqCst);
}

extern "C" fn on_alrm(_: libc::c_int) {
    ALRM_SEEN.fetch_add(1, Ordering::Relaxed);
}

/// SIGALRM `per_second` times a second from an interval timer (0 stops it), as a program with
/// a busy timer would get: the benchmark's signal storm, passed on by the default policy.
fn alarm_rate(per_second: u64) {
    let us = 1_000_000u64
        .checked_div(per_second)
        .map_or(0, |us| us.max(1));
    let tv = libc::timeval {
        tv_sec: (us / 1_000_000) as libc::time_t,
        tv_usec: (us % 1_000_000) as libc::suseconds_t,
    };
    let it = libc::itimerval {
        it_interval: tv,
        it_value: tv,
    };
    unsafe { libc::setitimer(libc::ITIMER_REAL, &it, std::ptr::null_mut()) };
}

fn install(sig: libc::c_int, handler: extern "C" fn(libc::c_int)) {
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = handler as *const () as usize;
        sa.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(sig, &sa, std::ptr::null_mut());
    }
}

fn gettid() -> i32 {
    unsafe { libc::gettid() }
}

fn idle_forever() -> ! {
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

/// Spawns a named thread and returns its kernel thread id once it runs.
fn spawn_named(name: &str, body: impl FnOnce() + Send + 'static) -> i32 {
    let (tx, rx) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            let _ = tx.send(gettid());
            body();
        });
    match spawned {
        Ok(_) => rx.recv().unwrap_or(-1),
        Err(_) => -1,
    }
}

fn hot_loop() -> ! {
    let mut x = 0u64;
    loop {
        x = ptscope_lab_hot(x);
    }
}

pub fn run(args: &[String]) -> i32 {
    let threads: usize = args
        .iter()
        .position(|a| a == "--threads")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(3);
    install(libc::SIGUSR1, on_usr1);
    install(libc::SIGTRAP, on_trap);
    install(libc::SIGALRM, on_alrm);
    let mut tids = vec![gettid()];
    for i in 0..threads {
        tids.push(spawn_named(&format!("idle-{i}"), || idle_forever()));
    }
    let (zombie_tx, zombie_rx) = std::sync::mpsc::channel::<()>();
    let control = spawn_named("control", move || control_loop(zombie_tx));
    tids.push(control);
    say(&format!(
        "READY {{\"pid\":{},\"hot\":\"{:#x}\",\"counter\":\"{:#x}\",\"usr1\":\"{:#x}\",\"alrm\":\"{:#x}\",\"peek\":\"{:#x}\",\"answer\":\"{:#x}\",\"tids\":{:?}}}",
        std::process::id(),
        ptscope_lab_hot as *const () as usize,
        &HOT_CALLS as *const AtomicU64 as usize,
        &USR1_SEEN as *const AtomicU64 as usize,
        &ALRM_SEEN as *const AtomicU64 as usize,
        &PEEK_ME as *const AtomicU64 as usize,
        ptscope_lab_answer as *const () as usize,
        tids
    ));
    if zombie_rx.recv().is_ok() {
        // The main thread leaves with exit(2), not exit_group(2): the process lives on with a
        // zombie leader, as after pthread_exit in main.
        say("zombie");
        unsafe { libc::syscall(libc::SYS_exit, 0) };
    }
    idle_forever()
}

fn control_loop(zombie: std::sync::mpsc::Sender<()>) {
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("spawn"), name) => {
                let tid = spawn_named(name.unwrap_or("spawned"), || idle_forever());
                say(&format!("spawned {tid}"));
            }
            (Some("exit-thread"), code) => {
                let code: i64 = code.and_then(|c| c.parse().ok()).unwrap_or(0);
                let tid = spawn_named("short", move || {
                    // exit(2) of this thread alone with a chosen code, which pthread_exit
                    // cannot give.
                    unsafe { libc::syscall(libc::SYS_exit, code) };
                });
                say(&format!("exiting {tid}"));
            }
            (Some("hot"), _) => {
                let tid = spawn_named("hot", || hot_loop());
                say(&format!("hot {tid}"));
            }
            (Some("int3"), _) => {
                unsafe { std::arch::asm!("int3") };
                say(&format!("after-int3 {}", TRAPS_SEEN.load(Ordering::SeqCst)));
            }
            (Some("churn"), _) => {
                let tid = spawn_named("churn", || loop {
                    let _ = std::thread::Builder::new()
                        .name("brief".into())
                        .spawn(|| std::hint::black_box(1))
                        .map(|h| h.join());
                });
                say(&format!("churn {tid}"));
            }
            (Some("signals"), rate) => {
                let rate = rate.and_then(|r| r.parse().ok()).unwrap_or(1000);
                alarm_rate(rate);
                say(&format!("signals {rate}"));
            }
            (Some("storm"), n) => {
                // Thread births one after another, as fast as the process can make them.
                let n: u64 = n.and_then(|n| n.parse().ok()).unwrap_or(10_000);
                let mut born = 0;
                for _ in 0..n {
                    let t = std::thread::Builder::new().spawn(|| std::hint::black_box(1));
                    if let Ok(h) = t {
                        let _ = h.join();
                        born += 1;
                    }
                }
                say(&format!("storm {born}"));
            }
            (Some("fork"), _) => fork_child(),
            (Some("zombie"), _) => {
                let _ = zombie.send(());
            }
            (Some("calls"), _) => say(&format!("calls {}", HOT_CALLS.load(Ordering::SeqCst))),
            (Some("traps"), _) => say(&format!("traps {}", TRAPS_SEEN.load(Ordering::SeqCst))),
            (Some("peek"), _) => say(&format!("peeked {:#x}", PEEK_ME.load(Ordering::SeqCst))),
            (Some("answer"), _) => {
                // SAFETY: ptscope_lab_answer (above) takes nothing, touches no memory and
                // returns in eax, as an extern "C" fn() -> u32 does.
                let v = unsafe { ptscope_lab_answer() };
                say(&format!("answer {v}"));
            }
            (Some("quit"), code) => {
                std::process::exit(code.and_then(|c| c.parse().ok()).unwrap_or(0))
            }
            _ => say("?"),
        }
    }
}

/// A child that runs through the hot function (where a test put a breakpoint) and exits;
/// the parent reports how it ended.
fn fork_child() {
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let mut x = 0;
        for _ in 0..1000 {
            x = ptscope_lab_hot(x);
        }
        unsafe { libc::_exit(if std::hint::black_box(x) == 0 { 1 } else { 0 }) };
    }
    say(&format!("forked {pid}"));
    let mut status = 0;
    unsafe { libc::waitpid(pid, &mut status, 0) };
    say(&format!("child-status {status}"));
}
