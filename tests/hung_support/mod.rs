//! Shared by tests/hung.rs: start a `hung-*` demo program, read its READY line, wait for its
//! threads to block where it says, run `ptscope dump` on it.
#![allow(dead_code)]

// Each support module takes its own copy: a test crate with both (ui_e2e) then has two.
#[allow(clippy::duplicate_mod)]
#[path = "../common/ready.rs"]
mod ready;

use ptscope::procinfo::ProcReader;
use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const TIMEOUT: Duration = Duration::from_secs(20);

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_ptscope")
}

/// A running demo program; killed and reaped on drop (the test started it).
pub struct Demo {
    child: Child,
    pub pid: i32,
    pub ready: Value,
    /// When the READY line was read: every thread the demo names was blocked by then or soon.
    pub ready_at: Instant,
    pub started: Instant,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Demo {
    pub fn start(name: &str, args: &[&str]) -> Demo {
        let started = Instant::now();
        let mut child = Command::new(bin())
            .arg("__demo")
            .arg(name)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start demo");
        let ready: Value = ready::ready_json(&mut child, name, TIMEOUT);
        let pid = ready["pid"].as_i64().expect("pid") as i32;
        assert_eq!(pid, child.id() as i32);
        Demo {
            child,
            pid,
            ready,
            ready_at: Instant::now(),
            started,
        }
    }

    pub fn tid(&self, key: &str) -> i32 {
        self.ready[key]
            .as_i64()
            .unwrap_or_else(|| panic!("{key} in {}", self.ready)) as i32
    }

    pub fn tids(&self, key: &str) -> Vec<i32> {
        self.ready[key]
            .as_array()
            .unwrap_or_else(|| panic!("{key} in {}", self.ready))
            .iter()
            .map(|t| t.as_i64().unwrap() as i32)
            .collect()
    }

    pub fn str(&self, key: &str) -> String {
        self.ready[key]
            .as_str()
            .unwrap_or_else(|| panic!("{key} in {}", self.ready))
            .to_string()
    }

    pub fn addrs(&self, key: &str) -> Vec<String> {
        self.ready[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .collect()
    }

    /// Waits (bounded) until each thread sleeps in the named system call.
    pub fn wait_blocked(&self, tids: &[i32], call: &str) {
        let mut r = ProcReader::new();
        let deadline = Instant::now() + TIMEOUT;
        for &tid in tids {
            loop {
                let v = r.thread(self.pid, tid).expect("thread readable");
                if v.state == 'S' && v.syscall.name().as_deref() == Some(call) {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "thread {tid} never blocked in {call}: {v:?}"
                );
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }

    pub fn dump(&self, args: &[&str]) -> std::process::Output {
        crate::common::ptscope_dump()
            .arg(self.pid.to_string())
            .args(args)
            .output()
            .expect("run ptscope dump")
    }

    pub fn dump_json(&self) -> Value {
        let out = self.dump(&["--json"]);
        assert!(
            out.status.success(),
            "dump failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("dump json")
    }

    pub fn dump_text(&self, args: &[&str]) -> String {
        let out = self.dump(args);
        assert!(
            out.status.success(),
            "dump failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    }
}

/// The `waits` object of one thread in a dump.
pub fn waits(dump: &Value, tid: i32) -> Value {
    dump["threads"]
        .as_array()
        .expect("threads")
        .iter()
        .find(|t| t["tid"] == tid)
        .unwrap_or_else(|| panic!("thread {tid} not in the dump"))["waits"]
        .clone()
}

/// The cycle as the dump reports it: starting at its lowest tid, in wait order.
pub fn rotate_to_lowest<T: Clone>(tids: &[i32], with: &[T]) -> (Vec<i32>, Vec<T>) {
    let low = (0..tids.len()).min_by_key(|&i| tids[i]).unwrap();
    let mut t = tids.to_vec();
    let mut w = with.to_vec();
    t.rotate_left(low);
    w.rotate_left(low);
    (t, w)
}
