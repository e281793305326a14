//! The test bench target: a multithreaded process that does, on a line of stdin, one thing a
//! tracer must cope with, and says on stdout what it did. Tests read those lines with bounded
//! timeouts instead of sleeping.
//!
//! Start line: `READY {"pid":..,"hot":"0x..","counter":"0x..","usr1":"0x..","alrm":"0x..",
//! "peek":"0x..","answer":"0x..","exit":"0x..","tids":[..]}` (`Ready`). `Driver` runs the program from another
//! process; this file and that one are the whole protocol.
//!
//! `burst T N` has T threads call the hot function N times each with rdi = 0..N and answers
//! with the count of calls (`burst T*N`): a known number of hits with known arguments.
//!
//! `counter` is written by the hot threads only; `peek` is read by the `peek` command only (a
//! read watch's target); `answer` is a function of ours whose bytes tests rewrite (see
//! `ptscope_lab_answer`).

pub mod driver;

pub use driver::{Driver, LabError};

use serde::{Deserialize, Serialize};
use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// What the READY line says: the process, the addresses a tracer needs in it, and the
/// threads that exist at that moment (main, the idle ones, control).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ready {
    pub pid: i32,
    /// `ptscope_lab_hot`, the function worth a breakpoint.
    #[serde(with = "hex")]
    pub hot: u64,
    /// Its call counter (`HOT_CALLS`), a u64.
    #[serde(with = "hex")]
    pub counter: u64,
    /// SIGUSR1 handler runs (`USR1_SEEN`), a u64.
    #[serde(with = "hex")]
    pub usr1: u64,
    /// SIGALRM handler runs (`ALRM_SEEN`), a u64.
    #[serde(with = "hex")]
    pub alrm: u64,
    /// `PEEK_ME`, read by the `peek` command only: a read watch's target.
    #[serde(with = "hex")]
    pub peek: u64,
    /// `ptscope_lab_answer`: 31 c0 90 b8 2a 00 00 00 c3; returns 42, or 0 with a ret at +2.
    #[serde(with = "hex")]
    pub answer: u64,
    /// The `syscall` instruction in `ptscope_lab_exit` that ends an `exit-thread` thread.
    #[serde(with = "hex")]
    pub exit: u64,
    pub tids: Vec<i32>,
}

/// Addresses as "0x..." strings, as a person reads them in the line.
mod hex {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{v:#x}"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let text = String::deserialize(d)?;
        let digits = text
            .strip_prefix("0x")
            .ok_or_else(|| D::Error::custom(format!("{text:?} is not 0x-prefixed")))?;
        u64::from_str_radix(digits, 16).map_err(D::Error::custom)
    }
}

/// The first word of the line that answers a command (the command's own word for most).
pub fn answer_word(command: &str) -> &str {
    match command.split_whitespace().next().unwrap_or("") {
        "spawn" => "spawned",
        "exit-thread" => "exiting",
        "int3" => "after-int3",
        "fork" => "forked",
        other => other,
    }
}

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
    // 16-aligned, so tests know that ptscope_lab_answer+1 is an odd address.
    ".p2align 4",
    "ptscope_lab_answer:",
    "xor eax, eax",
    "nop",
    "mov eax, 42",
    "ret",
    ".size ptscope_lab_answer, .-ptscope_lab_answer",
    ".popsection",
);

// `ptscope_lab_exit(code)`: exit(2) of the calling thread alone, with a chosen code (which
// pthread_exit cannot give), through a `syscall` instruction of its own at +5, so that a test can
// put a breakpoint on the very instruction that ends the thread: b8 3c 00 00 00 (mov eax, 60),
// 0f 05 (syscall), 0f 0b (ud2, never reached).
std::arch::global_asm!(
    ".pushsection .text.ptscope_lab_exit,\"ax\",@progbits",
    ".globl ptscope_lab_exit",
    ".type ptscope_lab_exit,@function",
    ".p2align 4",
    "ptscope_lab_exit:",
    "mov eax, 60",
    "syscall",
    "ud2",
    ".size ptscope_lab_exit, .-ptscope_lab_exit",
    ".popsection",
);

/// Where the `syscall` of `ptscope_lab_exit` is.
const EXIT_SYSCALL_AT: u64 = 5;

extern "C" {
    fn ptscope_lab_answer() -> u32;
    fn ptscope_lab_exit(code: i64) -> !;
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
    // SAFETY: write(2) is async-signal-safe; the buffer is a static of the length given.
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
    // SAFETY: setitimer reads the live struct given and may be passed NULL for the old one.
    unsafe { libc::setitimer(libc::ITIMER_REAL, &it, std::ptr::null_mut()) };
}

fn install(sig: libc::c_int, handler: extern "C" fn(libc::c_int)) {
    // SAFETY: the handlers only touch atomics (and write(2)); sigaction gets a zeroed struct
    // filled in as its C signature wants, and NULL for the old action.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = handler as *const () as usize;
        sa.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(sig, &sa, std::ptr::null_mut());
    }
}

fn gettid() -> i32 {
    // SAFETY: gettid has no preconditions.
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
    let ready = Ready {
        pid: std::process::id() as i32,
        hot: ptscope_lab_hot as *const () as usize as u64,
        counter: &HOT_CALLS as *const AtomicU64 as usize as u64,
        usr1: &USR1_SEEN as *const AtomicU64 as usize as u64,
        alrm: &ALRM_SEEN as *const AtomicU64 as usize as u64,
        peek: &PEEK_ME as *const AtomicU64 as usize as u64,
        answer: ptscope_lab_answer as *const () as usize as u64,
        exit: ptscope_lab_exit as *const () as usize as u64 + EXIT_SYSCALL_AT,
        tids,
    };
    match serde_json::to_string(&ready) {
        Ok(json) => say(&format!("READY {json}")),
        Err(e) => {
            eprintln!("lab: cannot write the READY line: {e}");
            return 1;
        }
    }
    if zombie_rx.recv().is_ok() {
        // The main thread leaves with exit(2), not exit_group(2): the process lives on with a
        // zombie leader, as after pthread_exit in main.
        say("zombie");
        // SAFETY: exit(2) of this thread only. No other thread borrows from its stack (what
        // they share is static or was moved to them), and it holds no lock.
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
                    // SAFETY: exit(2) ends this thread alone; it holds no lock and nothing
                    // borrows from its stack (its pthread is never joined).
                    unsafe { ptscope_lab_exit(code) };
                });
                say(&format!("exiting {tid}"));
            }
            (Some("hot"), _) => {
                let tid = spawn_named("hot", || hot_loop());
                say(&format!("hot {tid}"));
            }
            (Some("int3"), _) => {
                // SAFETY: int3 raises SIGTRAP, which `on_trap` handles; no register or
                // memory is touched.
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
            (Some("burst"), threads) => {
                let threads: u64 = threads.and_then(|n| n.parse().ok()).unwrap_or(2);
                let calls: u64 = words.next().and_then(|n| n.parse().ok()).unwrap_or(1000);
                say(&format!("burst {}", burst(threads, calls)));
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

/// `threads` threads call the hot function `calls` times each, with rdi = 0, 1, 2, ... as its
/// argument, all starting together so that they run through it side by side; joined before
/// the answer, which is how many calls were made (as the counter saw them).
fn burst(threads: u64, calls: u64) -> u64 {
    let before = HOT_CALLS.load(Ordering::SeqCst);
    let start = std::sync::Arc::new(std::sync::Barrier::new(threads as usize));
    let workers: Vec<_> = (0..threads)
        .filter_map(|_| {
            let start = start.clone();
            std::thread::Builder::new()
                .name("burst".into())
                .spawn(move || {
                    start.wait();
                    for i in 0..calls {
                        std::hint::black_box(ptscope_lab_hot(std::hint::black_box(i)));
                    }
                })
                .ok()
        })
        .collect();
    for w in workers {
        let _ = w.join();
    }
    HOT_CALLS.load(Ordering::SeqCst) - before
}

/// A child that runs through the hot function (where a test put a breakpoint) and exits;
/// the parent reports how it ended.
fn fork_child() {
    // SAFETY: the child only calls a function that does arithmetic on an atomic, then
    // _exit(2): nothing that could need a lock another thread held at the fork.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let mut x = 0;
        for _ in 0..1000 {
            x = ptscope_lab_hot(x);
        }
        // SAFETY: _exit(2) ends the child without running the parent's exit handlers.
        unsafe { libc::_exit(if std::hint::black_box(x) == 0 { 1 } else { 0 }) };
    }
    say(&format!("forked {pid}"));
    let mut status = 0;
    // SAFETY: waitpid writes the status into a live local.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    say(&format!("child-status {status}"));
}
