//! gdb doing the same jobs. Timings inside gdb come from its Python (time.monotonic around the
//! command itself), so gdb's start-up and symbol loading are left out of every rate; figure 1
//! times the whole command, as a user would type it.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// gdb's version line, or None when gdb (or its Python) is missing.
pub fn available() -> Option<String> {
    let out = super::lab::tool("gdb")
        .args([
            "-nx",
            "-batch",
            "-ex",
            "python print('PTSB-PY')",
            "-ex",
            "show version",
        ])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !text.contains("PTSB-PY") {
        return None;
    }
    text.lines()
        .find(|l| l.starts_with("GNU gdb"))
        .map(str::to_string)
}

fn base(pid: i32) -> Command {
    let mut c = super::lab::tool("gdb");
    // No init files and no debuginfod: the same local work on every machine.
    c.args(["-nx", "-batch", "-iex", "set debuginfod enabled off", "-p"])
        .arg(pid.to_string())
        .env_remove("DEBUGINFOD_URLS")
        .stdin(Stdio::null());
    c
}

/// `gdb -batch -p PID -ex 'info threads'`, wall time of the whole command.
pub fn info_threads(pid: i32) -> Duration {
    let t0 = Instant::now();
    let out = base(pid)
        .args(["-ex", "info threads"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run gdb");
    let took = t0.elapsed();
    assert!(out.success(), "gdb info threads on {pid}: {out}");
    took
}

/// Runs a gdb script against `pid`; returns the numbers of the line starting `PTSB`.
fn script(pid: i32, text: &str) -> Vec<f64> {
    let path =
        std::env::temp_dir().join(format!("ptscope-bench-{}-{}.gdb", std::process::id(), pid));
    std::fs::write(&path, text).expect("write gdb script");
    let out = base(pid)
        .arg("-x")
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("run gdb");
    let _ = std::fs::remove_file(&path);
    let stdout = String::from_utf8_lossy(&out.stdout);
    // gdb may print a frame line without its newline just before ours.
    let line = stdout
        .lines()
        .find_map(|l| l.find("PTSB ").map(|i| &l[i..]))
        .unwrap_or_else(|| {
            panic!(
                "gdb script gave no result:\n{stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    line.split_whitespace()
        .skip(1)
        .filter_map(|w| w.parse().ok())
        .collect()
}

/// Breakpoint with an ignore count of `hits`: gdb's fastest way through many hits (every hit
/// still stops all threads, checks the count and steps over). Returns (seconds, calls of the
/// hot function in that time).
pub fn breakpoints(pid: i32, addr: u64, counter: u64, hits: u64) -> (f64, u64) {
    let text = format!(
        "set pagination off
set confirm off
set language c
break *{addr:#x}
ignore 1 {hits}
python import time
python c0 = int(gdb.parse_and_eval('*(unsigned long *){counter:#x}'))
python t0 = time.monotonic()
continue
python t1 = time.monotonic()
python c1 = int(gdb.parse_and_eval('*(unsigned long *){counter:#x}'))
python print('PTSB', t1 - t0, c1 - c0)
delete
detach
"
    );
    let v = script(pid, &text);
    (v[0], v[1] as u64)
}

/// `dprintf` on `addr` printing rdi at every hit, for `window` (ended by a SIGINT to the target).
/// Returns (seconds of the `continue`, calls of the hot function in that time).
pub fn dprintf(pid: i32, addr: u64, counter: u64, window: Duration) -> (f64, u64) {
    let mut child = base(pid)
        .args(["-ex", "set pagination off", "-ex", "set confirm off"])
        // C expressions whatever frame the SIGINT stops in (a Rust frame would parse Rust).
        .args(["-ex", "set language c"])
        .args(["-ex", "handle SIGALRM nostop noprint pass"])
        .args(["-ex", &format!("dprintf *{addr:#x},\"%lu\\n\",$rdi")])
        .args(["-ex", "python import time"])
        .args([
            "-ex",
            &format!("python c0 = int(gdb.parse_and_eval('*(unsigned long *){counter:#x}'))"),
        ])
        .args(["-ex", "python t0 = time.monotonic()"])
        .args(["-ex", "continue"])
        .args(["-ex", "python t1 = time.monotonic()"])
        .args([
            "-ex",
            &format!("python c1 = int(gdb.parse_and_eval('*(unsigned long *){counter:#x}'))"),
        ])
        .args(["-ex", "python print('PTSB', t1 - t0, c1 - c0)"])
        .args(["-ex", "delete", "-ex", "detach"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start gdb");
    let err = child.stderr.take().expect("gdb stderr");
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut std::io::BufReader::new(err), &mut text);
        text
    });
    let out = child.stdout.take().expect("gdb stdout");
    // The first dprintf line says the `continue` is on.
    let (first_tx, first_rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut first = Some(first_tx);
        for l in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            if let Some(i) = l.find("PTSB ") {
                return Some(l[i..].to_string());
            }
            if !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()) {
                if let Some(tx) = first.take() {
                    let _ = tx.send(());
                }
            }
        }
        None
    });
    first_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("gdb's dprintf printed nothing");
    std::thread::sleep(window);
    // SIGINT to the target, which gdb intercepts (`handle SIGINT stop nopass`, its default)
    // and ends the `continue` with; gdb itself, without a terminal, would quit on one.
    // SAFETY: kill(2) takes plain integers; the pid is the lab's, which gdb traces.
    unsafe { libc::kill(pid, libc::SIGINT) };
    let line = reader.join().ok().flatten();
    let status = child.wait();
    let line = line.unwrap_or_else(|| {
        panic!(
            "gdb dprintf gave no result ({status:?}): {}",
            errors.join().unwrap_or_default()
        )
    });
    let v: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|w| w.parse().ok())
        .collect();
    (v[0], v[1] as u64)
}

/// `stepi N` on thread `tid` with the scheduler locked for steps, so the other threads stay
/// stopped as they do for ptscope and the raw loop. Returns seconds.
pub fn steps(pid: i32, tid: i32, count: u32) -> f64 {
    let text = format!(
        "set pagination off
set confirm off
set scheduler-locking step
python [t for t in gdb.selected_inferior().threads() if t.ptid[1] == {tid}][0].switch()
python import time
python t0 = time.monotonic()
stepi {count}
python print('PTSB', time.monotonic() - t0)
detach
"
    );
    script(pid, &text)[0]
}

/// Python `read_memory` of `len` bytes, `count` times, caches off. Returns seconds per read.
pub fn read_memory(pid: i32, addr: u64, len: usize, count: u32) -> f64 {
    let text = format!(
        "set pagination off
set code-cache off
set stack-cache off
python import time
python inf = gdb.selected_inferior()
python t0 = time.monotonic()
python for _ in range({count}): m = inf.read_memory({addr:#x}, {len})
python print('PTSB', (time.monotonic() - t0) / {count}, len(m))
detach
"
    );
    let v = script(pid, &text);
    assert_eq!(v[1] as usize, len, "gdb read a short block");
    v[0]
}

/// gdb attached with the process running (`continue`), SIGALRM passed silently.
pub struct Running {
    child: Child,
}

impl Running {
    /// `setup`: gdb commands run before the `continue`.
    pub fn start(pid: i32, setup: &[&str]) -> Running {
        let mut cmd = base(pid);
        cmd.args(["-ex", "handle SIGALRM nostop noprint pass"]);
        for s in setup {
            cmd.args(["-ex", s]);
        }
        let child = cmd
            .args(["-ex", "continue", "-ex", "detach"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start gdb");
        super::lab::await_traced_and_running(pid);
        Running { child }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Interrupts the target through gdb (SIGINT, as Ctrl-C), which then detaches and quits.
    pub fn finish(mut self) {
        // SAFETY: kill(2) takes plain integers; the pid is gdb's, our unreaped child.
        unsafe { libc::kill(self.pid(), libc::SIGINT) };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // The kernel detaches the tracees of a dead tracer.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
