//! The `__demo lab` process driven from the benchmark, plus reading its memory and CPU.

use crossbeam_channel::{unbounded, Receiver};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

pub const TIMEOUT: Duration = Duration::from_secs(20);

pub fn ptscope_bin() -> &'static str {
    env!("CARGO_BIN_EXE_ptscope")
}

pub struct Lab {
    pub child: Child,
    pub pid: i32,
    pub hot: u64,
    pub counter: u64,
    pub alrm: u64,
    stdin: ChildStdin,
    lines: Receiver<String>,
}

fn hex(v: &serde_json::Value) -> u64 {
    let s = v.as_str().unwrap_or("0x0");
    u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap_or(0)
}

impl Lab {
    pub fn start(threads: usize) -> Lab {
        let mut child = Command::new(ptscope_bin())
            .args(["__demo", "lab", "--threads", &threads.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start lab target");
        let stdout = child.stdout.take().expect("stdout");
        let stdin = child.stdin.take().expect("stdin");
        let (tx, rx) = unbounded();
        std::thread::Builder::new()
            .name("lab-stdout".into())
            .spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            })
            .expect("reader thread");
        let ready = rx.recv_timeout(TIMEOUT).expect("lab READY line");
        let json: serde_json::Value =
            serde_json::from_str(ready.strip_prefix("READY ").expect("READY prefix"))
                .expect("READY json");
        Lab {
            pid: json["pid"].as_i64().expect("pid") as i32,
            hot: hex(&json["hot"]),
            counter: hex(&json["counter"]),
            alrm: hex(&json["alrm"]),
            child,
            stdin,
            lines: rx,
        }
    }

    pub fn send(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").expect("write to lab");
        self.stdin.flush().expect("flush lab stdin");
    }

    pub fn expect(&self, prefix: &str) -> String {
        self.expect_within(prefix, TIMEOUT)
    }

    pub fn expect_within(&self, prefix: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l.starts_with(prefix) => return l,
                Ok(_) => continue,
                Err(_) => panic!("lab {} did not print {prefix:?} in time", self.pid),
            }
        }
    }

    /// Sends a command and returns the tid (or number) its answer line carries.
    pub fn command(&mut self, cmd: &str) -> i64 {
        self.send(cmd);
        let word = cmd.split_whitespace().next().unwrap_or("");
        let line = self.expect(&format!("{word} "));
        line.split_whitespace()
            .nth(1)
            .and_then(|v| v.parse().ok())
            .unwrap_or(-1)
    }

    pub fn read_u64(&self, addr: u64) -> u64 {
        read_u64(self.pid, addr)
    }

    pub fn tids(&self) -> Vec<i32> {
        task_ids(self.pid)
    }

    /// Fails loudly if a benchmark left any thread traced or stopped.
    pub fn assert_untraced(&self) {
        for tid in self.tids() {
            let status = std::fs::read_to_string(format!("/proc/{}/task/{tid}/status", self.pid))
                .unwrap_or_default();
            let field = |name: &str| {
                status
                    .lines()
                    .find_map(|l| l.strip_prefix(name))
                    .map(|v| v.trim().to_string())
                    .unwrap_or_default()
            };
            let tracer = field("TracerPid:");
            let state = field("State:");
            assert!(
                tracer.is_empty() || tracer == "0",
                "thread {tid} of lab {} left traced by {tracer}",
                self.pid
            );
            assert!(
                !state.starts_with('t') && !state.starts_with('T'),
                "thread {tid} of lab {} left in {state}",
                self.pid
            );
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Benchmark targets are ours: kill them on purpose.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn task_ids(pid: i32) -> Vec<i32> {
    let mut v: Vec<i32> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

pub fn read_u64(pid: i32, addr: u64) -> u64 {
    let mut buf = [0u8; 8];
    let local = [libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: 8,
    }];
    let remote = [libc::iovec {
        iov_base: addr as *mut libc::c_void,
        iov_len: 8,
    }];
    let n = unsafe { libc::process_vm_readv(pid, local.as_ptr(), 1, remote.as_ptr(), 1, 0) };
    assert_eq!(n, 8, "read of {addr:#x} in {pid}");
    u64::from_ne_bytes(buf)
}

/// CPU time of a whole process (any pid) or of one thread of ours, in nanoseconds, from the
/// kernel's per-task CPU clocks (exact, unlike the 10 ms ticks of /proc/*/stat).
pub fn process_cpu_ns(pid: i32) -> u64 {
    clock_ns(((!pid) << 3) | 2)
}

pub fn thread_cpu_ns(tid: i32) -> u64 {
    clock_ns(((!tid) << 3) | 6)
}

fn clock_ns(clock: i32) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    let r = unsafe { libc::clock_gettime(clock, &mut ts) };
    assert_eq!(r, 0, "CPU clock: {}", std::io::Error::last_os_error());
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The tid of the thread of this process with that name (e.g. "ptscope-tracer").
pub fn own_thread_named(name: &str) -> Option<i32> {
    let me = std::process::id() as i32;
    task_ids(me).into_iter().find(|tid| {
        std::fs::read_to_string(format!("/proc/{me}/task/{tid}/comm"))
            .map(|c| c.trim() == name)
            .unwrap_or(false)
    })
}

pub fn gettid() -> i32 {
    unsafe { libc::gettid() }
}

impl Lab {
    /// A line starting with `prefix` if one has come, without waiting.
    pub fn poll_line(&self, prefix: &str) -> Option<String> {
        self.lines.try_iter().find(|l| l.starts_with(prefix))
    }

    /// A readable mapping of at least `len` bytes (for memory reads).
    pub fn readable_region(&self, len: u64) -> u64 {
        let maps = std::fs::read_to_string(format!("/proc/{}/maps", self.pid)).expect("maps");
        maps.lines()
            .find_map(|line| {
                let mut parts = line.split_whitespace();
                let (lo, hi) = parts.next()?.split_once('-')?;
                let perms = parts.next()?;
                let lo = u64::from_str_radix(lo, 16).ok()?;
                let hi = u64::from_str_radix(hi, 16).ok()?;
                let special = line.contains('[');
                (perms.starts_with('r') && !special && hi - lo >= len).then_some(lo)
            })
            .expect("a readable mapping of the asked size")
    }
}

pub fn traced_and_running(pid: i32, tid: i32) -> bool {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status")).unwrap_or_default();
    let tracer = status
        .lines()
        .find_map(|l| l.strip_prefix("TracerPid:"))
        .map(str::trim)
        .unwrap_or("0");
    let state = status
        .lines()
        .find_map(|l| l.strip_prefix("State:"))
        .map(str::trim)
        .unwrap_or("");
    tracer != "0" && !state.starts_with('t')
}

/// Polls /proc until every thread of `pid` is traced and none is in a tracing stop: the tracer
/// has attached and let the process run (no tracer says so on its own).
pub fn await_traced_and_running(pid: i32) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !task_ids(pid).iter().all(|t| traced_and_running(pid, *t)) {
        assert!(
            Instant::now() < deadline,
            "tracer of {pid} did not attach and run"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}
