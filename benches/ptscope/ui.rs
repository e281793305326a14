//! The UI run loop, headless: ptscope's own `ui::run::run` on a TestBackend wrapped so that
//! every flushed frame is timestamped and says which process state its status bar shows.

use super::lab;
use crossbeam_channel::{unbounded, Receiver, Sender};
use ptscope::tracer::{Options, TracerHandle};
use ptscope::ui::app::Model;
use ptscope::ui::run::{run, Input, Stats};
use ratatui::backend::{Backend, ClearType, TestBackend, WindowSize};
use ratatui::buffer::Cell;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::{Position, Size};
use ratatui::Terminal;
use std::time::{Duration, Instant};

pub struct Frame {
    pub at: Instant,
    /// "STOPPED", "RUNNING", ... as the status bar shows it.
    pub state: Option<&'static str>,
}

struct Probe {
    inner: TestBackend,
    frames: Sender<Frame>,
}

const STATES: [&str; 4] = ["STOPPING", "STOPPED", "RUNNING", "DETACHED"];

fn shown_state(b: &TestBackend) -> Option<&'static str> {
    let buf = b.buffer();
    let area = buf.area;
    let mut text = String::new();
    for y in area.height.saturating_sub(2)..area.height {
        for x in 0..area.width {
            text.push_str(buf[(x, y)].symbol());
        }
    }
    STATES.into_iter().find(|s| text.contains(s))
}

impl Backend for Probe {
    type Error = <TestBackend as Backend>::Error;

    fn draw<'a, I>(&mut self, content: I) -> Result<(), Self::Error>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        self.inner.draw(content)
    }
    fn hide_cursor(&mut self) -> Result<(), Self::Error> {
        self.inner.hide_cursor()
    }
    fn show_cursor(&mut self) -> Result<(), Self::Error> {
        self.inner.show_cursor()
    }
    fn get_cursor_position(&mut self) -> Result<Position, Self::Error> {
        self.inner.get_cursor_position()
    }
    fn set_cursor_position<P: Into<Position>>(&mut self, p: P) -> Result<(), Self::Error> {
        self.inner.set_cursor_position(p)
    }
    fn clear(&mut self) -> Result<(), Self::Error> {
        self.inner.clear()
    }
    fn clear_region(&mut self, t: ClearType) -> Result<(), Self::Error> {
        self.inner.clear_region(t)
    }
    fn size(&self) -> Result<Size, Self::Error> {
        self.inner.size()
    }
    fn window_size(&mut self) -> Result<WindowSize, Self::Error> {
        self.inner.window_size()
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        self.inner.flush()?;
        let _ = self.frames.send(Frame {
            at: Instant::now(),
            state: shown_state(&self.inner),
        });
        Ok(())
    }
}

/// The UI attached to `pid` on its own thread, as `ptscope PID` runs it, minus the terminal.
pub struct Ui {
    pub frames: Receiver<Frame>,
    keys: Sender<Input>,
    pub ui_tid: i32,
    pub tracer_tid: i32,
    join: std::thread::JoinHandle<Stats>,
}

impl Ui {
    pub fn start(pid: i32, opts: Options) -> Ui {
        let handle = TracerHandle::attach(pid, opts).expect("ptscope attach");
        let tracer_tid = lab::own_thread_named("ptscope-tracer").expect("tracer thread");
        let (ftx, frames) = unbounded();
        let (keys, inputs) = unbounded();
        let (tid_tx, tid_rx) = crossbeam_channel::bounded(1);
        let join = std::thread::Builder::new()
            .name("ui".into())
            .spawn(move || {
                let _ = tid_tx.send(lab::gettid());
                let backend = Probe {
                    inner: TestBackend::new(120, 35),
                    frames: ftx,
                };
                let mut terminal = Terminal::new(backend).expect("terminal");
                let mut model = Model::new(pid, "lab", false);
                let stats = run(&mut terminal, &handle, &mut model, &inputs, None).expect("ui run");
                handle.shutdown().expect("detach");
                stats
            })
            .expect("ui thread");
        let ui_tid = tid_rx.recv().expect("ui tid");
        let ui = Ui {
            frames,
            keys,
            ui_tid,
            tracer_tid,
            join,
        };
        ui.await_state("STOPPED");
        ui
    }

    pub fn key(&self, c: char) {
        let _ = self.keys.send(Input::Key(KeyEvent::new(
            KeyCode::Char(c),
            KeyModifiers::NONE,
        )));
    }

    /// The time of the first frame from now on that shows `state`.
    pub fn await_state(&self, state: &str) -> Instant {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let f = self
                .frames
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no frame showing {state} in time"));
            if f.state == Some(state) {
                return f.at;
            }
        }
    }

    pub fn skip_frames(&self) {
        while self.frames.try_recv().is_ok() {}
    }

    /// Quits the UI (which detaches); returns its frame and message counts.
    pub fn finish(self) -> Stats {
        self.key('q');
        self.join.join().expect("ui thread")
    }
}
