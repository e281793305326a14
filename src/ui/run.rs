//! The UI loop: wait on keys, tracer events, worker answers and a slow tick at once; apply
//! everything that is already waiting (keys first), carrying out the effects each update
//! returns, then draw once. A burst of ten thousand events costs one frame, and a key pressed
//! during it is handled before the rest of the burst.

use super::app::{update, Model};
use super::assign;
use super::keymap::{self, Mode};
use super::msg::{Effect, Msg};
use super::panes::screen::ScreenView;
use super::resolve;
use super::workers::{KernelAsk, SymbolAsk, Workers};
use crate::tracer::event::{Command, Event};
use crossbeam_channel::{never, select, tick, Receiver, SendError, TryRecvError};
use ratatui::backend::Backend;
use ratatui::crossterm::event::KeyEvent;
use ratatui::Terminal;
use std::collections::VecDeque;
use std::io;
use std::time::{Duration, Instant};

/// What the input and signal threads send.
#[derive(Clone, Debug)]
pub enum Input {
    Key(KeyEvent),
    Resize(u16, u16),
    Signal(&'static str),
    /// The terminal can no longer be read (closed, or an error): time to go.
    Closed(String),
}

/// The part of a tracer the loop needs, so tests can drive it with a plain channel.
pub trait Tracer {
    fn send(&self, cmd: Command) -> u64;
    fn events(&self) -> &Receiver<Event>;
}

/// How long one burst may be applied before the screen is drawn anyway.
const FRAME: Duration = Duration::from_millis(16);
/// While running, threads born since the last snapshot get their names this often.
const TICK: Duration = Duration::from_millis(500);

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub frames: u64,
    pub messages: u64,
}

fn mode(m: &Model) -> Mode {
    if m.screen.help {
        Mode::Help
    } else if m.prompt.is_open() {
        Mode::Prompt
    } else {
        Mode::Normal
    }
}

fn input_msg(i: Input, m: &Model) -> Option<Msg> {
    match i {
        Input::Key(k) => keymap::map(k, mode(m)),
        Input::Resize(w, h) => Some(Msg::Resize(w, h)),
        Input::Signal(name) => Some(Msg::Signal(name)),
        Input::Closed(_) => Some(Msg::Quit),
    }
}

/// A message whose frame should not wait for pacing: a key, or a change of the whole
/// process's state (stopped, resumed, gone, a command's answer). Floods are made of the rest.
fn urgent(msg: &Msg) -> bool {
    use crate::tracer::EventKind as K;
    match msg {
        Msg::Tracer(e) => matches!(
            e.kind,
            K::AllStopped(_) | K::Resumed | K::ProcessExited(_) | K::Detached | K::Reply { .. }
        ),
        Msg::Tick | Msg::PcNames { .. } | Msg::Kernel(_) | Msg::PreStop(_) => false,
        _ => true,
    }
}

/// Carries out what `update` asks for.
struct Effects<'a, T> {
    tracer: &'a T,
    /// Without workers (tests, the bench, or the threads could not start) names and stacks
    /// never come, a /proc reading comes back empty at once (so a stop waiting on one is still
    /// sent), and prompts are worked out here without symbols.
    workers: Option<&'a Workers>,
    stats: Stats,
    quit: bool,
}

impl<T: Tracer> Effects<'_, T> {
    /// Applies one message and carries out its effects; answers known at once are applied in
    /// turn, in order.
    fn apply(&mut self, m: &mut Model, msg: Msg) {
        // Almost every message has no answer at once: the queue stays empty and unallocated.
        let mut queue = VecDeque::new();
        let mut next = Some(msg);
        while let Some(msg) = next.take().or_else(|| queue.pop_front()) {
            self.stats.messages += 1;
            for fx in update(m, msg) {
                queue.extend(self.carry_out(m, fx));
            }
        }
    }

    fn carry_out(&mut self, m: &mut Model, fx: Effect) -> Option<Msg> {
        let w = self.workers;
        match fx {
            Effect::Tracer(cmd) => {
                let id = self.tracer.send(cmd.clone());
                m.sent(id, cmd);
                None
            }
            Effect::ReadKernel => match w.map(|w| w.kernel.send(KernelAsk::View)) {
                Some(Ok(())) => None,
                _ => Some(Msg::Kernel(Vec::new())),
            },
            Effect::ReadPreStop => match w.map(|w| w.kernel.send(KernelAsk::PreStop)) {
                Some(Ok(())) => None,
                _ => Some(Msg::PreStop(Box::default())),
            },
            // Without workers nothing is analysed: the columns stay as they are.
            Effect::Analyse(ask) => {
                if let Some(w) = w {
                    let _ = w.analysis.send(ask);
                }
                None
            }
            Effect::NamePcs { image, pcs } => {
                if let Some(w) = w {
                    let _ = w.symbols.send(SymbolAsk::Names { image, pcs });
                }
                None
            }
            Effect::Unwind(u) => {
                if let Some(w) = w {
                    let _ = w.symbols.send(SymbolAsk::Unwind(Box::new(u)));
                }
                None
            }
            Effect::Resolve(ask) => {
                let ask = match w {
                    Some(w) => match w.symbols.send(SymbolAsk::Resolve(Box::new(ask))) {
                        Ok(()) => return None,
                        Err(SendError(SymbolAsk::Resolve(ask))) => *ask,
                        Err(_) => return None,
                    },
                    None => ask,
                };
                Some(Msg::resolved(&ask, resolve::answer(&ask, None, None)))
            }
            Effect::Disassemble(ask) => {
                if let Some(w) = w {
                    let _ = w.symbols.send(SymbolAsk::Code(ask));
                }
                None
            }
            Effect::ReadSource(ask) => {
                if let Some(w) = w {
                    let _ = w.symbols.send(SymbolAsk::Source(ask));
                }
                None
            }
            Effect::ResolveEdit(ask) => {
                let ask = match w {
                    Some(w) => match w.symbols.send(SymbolAsk::Edit(Box::new(ask))) {
                        Ok(()) => return None,
                        Err(SendError(SymbolAsk::Edit(ask))) => *ask,
                        Err(_) => return None,
                    },
                    None => ask,
                };
                Some(Msg::EditResolved {
                    text: ask.text.clone(),
                    result: assign::evaluate(&ask, None, None),
                })
            }
            Effect::Quit => {
                self.quit = true;
                None
            }
        }
    }
}

pub fn draw<B: Backend>(terminal: &mut Terminal<B>, m: &Model) -> io::Result<()> {
    terminal
        .draw(|f| f.render_widget(&ScreenView { model: m }, f.area()))
        .map(|_| ())
        .map_err(|e| io::Error::other(e.to_string()))
}

/// How long an idle loop sleeps before looking again (it wakes earlier for anything).
const IDLE: Duration = Duration::from_secs(3600);

/// Everything the loop waits on. The tracer's stream becomes `None` once the tracer thread has
/// ended (process gone or detached): the last picture stays until the user quits.
struct Sources<'a> {
    inputs: &'a Receiver<Input>,
    events: Option<&'a Receiver<Event>>,
    answers: &'a Receiver<Msg>,
    ticker: Receiver<Instant>,
    none: Receiver<Event>,
}

impl Sources<'_> {
    /// The next message from any source within `within`: `None` when the time ran out,
    /// `Some(None)` for something that carries no message (the tracer's stream closing).
    fn next(&mut self, model: &Model, within: Duration) -> Option<Option<Msg>> {
        let events = self.events.unwrap_or(&self.none);
        let mut closed = false;
        let got = select! {
            recv(self.inputs) -> i => Some(match i {
                Ok(i) => input_msg(i, model),
                Err(_) => Some(Msg::Quit),
            }),
            recv(events) -> e => Some(match e {
                Ok(e) => Some(Msg::Tracer(e)),
                Err(_) => {
                    closed = true;
                    None
                }
            }),
            recv(self.answers) -> a => Some(a.ok()),
            recv(self.ticker) -> _ => Some(Some(Msg::Tick)),
            default(within) => None,
        };
        if closed {
            self.events = None;
        }
        got
    }

    /// A tracer event already waiting, without blocking: `None` when there is none.
    fn try_event(&mut self) -> Option<Option<Msg>> {
        match self.events?.try_recv() {
            Ok(e) => Some(Some(Msg::Tracer(e))),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => {
                self.events = None;
                None
            }
        }
    }
}

/// Runs until an update says quit (key, signal, closed terminal). Drawing errors end it too.
pub fn run<B: Backend, T: Tracer>(
    terminal: &mut Terminal<B>,
    tracer: &T,
    model: &mut Model,
    inputs: &Receiver<Input>,
    workers: Option<&Workers>,
) -> io::Result<Stats> {
    let mut fx = Effects {
        tracer,
        workers,
        stats: Stats::default(),
        quit: false,
    };
    let size = terminal
        .size()
        .map_err(|e| io::Error::other(e.to_string()))?;
    fx.apply(model, Msg::Resize(size.width, size.height));
    let no_answers = never();
    let mut sources = Sources {
        inputs,
        events: Some(tracer.events()),
        answers: workers.map(|w| &w.answers).unwrap_or(&no_answers),
        ticker: tick(TICK),
        none: never(),
    };
    draw(terminal, model)?;
    fx.stats.frames += 1;
    let mut last_draw = Instant::now();
    while !fx.quit {
        let Some(first) = sources.next(model, IDLE) else {
            continue;
        };
        let mut now_please = false;
        if let Some(msg) = first {
            now_please |= urgent(&msg);
            fx.apply(model, msg);
        }
        // Apply what is already waiting, keys first, for at most one frame's time.
        let deadline = Instant::now() + FRAME;
        while !fx.quit && Instant::now() < deadline {
            let msg = match inputs.try_recv() {
                Ok(i) => input_msg(i, model),
                Err(TryRecvError::Disconnected) => Some(Msg::Quit),
                Err(TryRecvError::Empty) => match sources.try_event() {
                    Some(msg) => msg,
                    None => break,
                },
            };
            if let Some(msg) = msg {
                now_please |= urgent(&msg);
                fx.apply(model, msg);
            }
        }
        // Pace: at most one frame per FRAME. Until the next frame is due, keep applying what
        // arrives, so a storm of events costs sixty frames a second, not one per event, and
        // the screen is never more than one frame behind.
        let due = last_draw + FRAME;
        while !fx.quit && !now_please {
            let left = due.saturating_duration_since(Instant::now());
            let Some(msg) = (!left.is_zero())
                .then(|| sources.next(model, left))
                .flatten()
            else {
                break;
            };
            if let Some(msg) = msg {
                now_please |= urgent(&msg);
                fx.apply(model, msg);
            }
        }
        if !fx.quit {
            draw(terminal, model)?;
            fx.stats.frames += 1;
            last_draw = Instant::now();
        }
    }
    Ok(fx.stats)
}

#[cfg(test)]
#[path = "run_tests.rs"]
mod tests;
