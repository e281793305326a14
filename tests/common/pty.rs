//! The real inspector in a pseudo-terminal, read back as a person sees it (a vt100 screen):
//! for tests that drive ptscope with keys and then look at the process it leaves behind.

use super::bin;
use portable_pty::{native_pty_system, Child, CommandBuilder, PtySize};
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ROWS: u16 = 40;
const COLS: u16 = 150;
/// What a screen may take to show: a debug build on a busy 2-core machine.
pub const TIMEOUT: Duration = Duration::from_secs(20);

pub struct Ui {
    screen: Arc<Mutex<vt100::Parser>>,
    writer: Box<dyn Write + Send>,
    child: Box<dyn Child + Send + Sync>,
}

impl Ui {
    pub fn start(args: &[&str]) -> Ui {
        let pty = native_pty_system()
            .openpty(PtySize {
                rows: ROWS,
                cols: COLS,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("openpty");
        let mut cmd = CommandBuilder::new(bin());
        cmd.args(args);
        cmd.env("TERM", "xterm-256color");
        let child = pty.slave.spawn_command(cmd).expect("spawn ptscope");
        drop(pty.slave);
        let mut reader = pty.master.try_clone_reader().expect("reader");
        let writer = pty.master.take_writer().expect("writer");
        let size = |n| std::num::NonZeroU16::new(n).expect("non-zero size");
        let screen = Arc::new(Mutex::new(vt100::Parser::new(size(ROWS), size(COLS), 0)));
        let s = screen.clone();
        // Keep draining the pty, or ptscope would block writing its frames.
        std::thread::spawn(move || {
            let _master = pty.master;
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                s.lock().unwrap().process(&buf[..n]);
            }
        });
        Ui {
            screen,
            writer,
            child,
        }
    }

    /// ptscope's own pid.
    pub fn pid(&self) -> i32 {
        self.child.process_id().expect("ptscope pid") as i32
    }

    pub fn text(&self) -> String {
        self.screen.lock().unwrap().screen().contents()
    }

    pub fn keys(&mut self, keys: &str) {
        self.writer.write_all(keys.as_bytes()).unwrap();
        self.writer.flush().unwrap();
    }

    /// Waits (bounded) until the screen shows `needle`.
    pub fn wait_for(&self, needle: &str) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let text = self.text();
            if text.contains(needle) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {needle:?}; screen:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits (bounded) until the screen satisfies `pred`, returning what it returned.
    pub fn wait<T>(&self, what: &str, pred: impl FnMut(&str) -> Option<T>) -> T {
        self.wait_within(what, TIMEOUT, pred)
    }

    pub fn wait_within<T>(
        &self,
        what: &str,
        within: Duration,
        mut pred: impl FnMut(&str) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + within;
        loop {
            let text = self.text();
            if let Some(v) = pred(&text) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; screen:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits (bounded) for ptscope to exit and checks it gave the terminal back (main screen,
    /// cursor shown); its exit code.
    pub fn wait_exit(&mut self) -> u32 {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                // The reader thread may still be parsing the last bytes; give it a bounded moment.
                let restored = || {
                    let p = self.screen.lock().unwrap();
                    !p.screen().alternate_screen() && !p.screen().hide_cursor()
                };
                let until = Instant::now() + Duration::from_secs(5);
                while !restored() && Instant::now() < until {
                    std::thread::sleep(Duration::from_millis(10));
                }
                assert!(
                    restored(),
                    "terminal not restored: alternate screen or hidden cursor"
                );
                return st.exit_code();
            }
            assert!(
                Instant::now() < deadline,
                "ptscope did not exit; screen:\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Ui {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
