//! `ptscope trace PID LOCATION... [--for SECONDS] [--json]`: the engine without the screen.
//! Every hit of each location is a line (time, thread, location, the six argument registers,
//! the caller); a per-thread count summary ends it. The breakpoints never stop the world: each
//! hit costs the hitting thread one stop (`tracer/engine/step_out_of_line.rs`).
//!
//! It ends after `--for`, on SIGINT, SIGTERM or SIGHUP, or when the process exits; the tracer
//! then puts back every byte and detaches, and the hits reported on the way are still printed.

pub mod output;

use crate::expr::{self, ExprError};
use crate::regs::Registers;
use crate::symbols::Symbolizer;
use crate::tracer::rules::{spec, Condition, LogTemplate};
use crate::tracer::{
    Command, EventKind, HitRule, OnHit, Options, StopCause, TraceError, TracerHandle,
};
use crossbeam_channel::{after, never, select, unbounded, Receiver};
use output::{Report, Traced};
use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, Instant};

pub struct Request {
    pub pid: i32,
    pub locations: Vec<String>,
    pub seconds: Option<f64>,
    pub json: bool,
}

/// A location worked out: where, and what its breakpoint does.
struct Planned {
    traced: Traced,
    rule: HitRule,
}

/// Binds the names of an expression typed for the tracer thread: registers stay, symbols become
/// addresses.
fn bind_with(symbols: &Symbolizer, text: &str) -> Result<expr::Expr, ExprError> {
    let parsed = expr::parse(text)?;
    let is_register = |n: &str| Registers::index_of(n).is_some();
    let symbol = |m: Option<&str>, n: &str| expr::Env::symbol(symbols, m, n);
    expr::bind(&parsed, &is_register, &symbol)
}

fn plan(symbols: &Symbolizer, text: &str) -> Result<Planned, String> {
    let s = spec::parse(text).map_err(|e| format!("`{text}`: {e}"))?;
    let addr = symbols
        .resolve(&s.location)
        .map_err(|e| format!("`{}`: {e}", s.location))?;
    let condition = match &s.condition {
        Some(c) => Some(Condition {
            source: c.clone(),
            expr: bind_with(symbols, c).map_err(|e| format!("`if {c}`: {e}"))?,
        }),
        None => None,
    };
    let action = match &s.log {
        Some(t) => OnHit::Log(LogTemplate::parse(t, &|h| bind_with(symbols, h))?),
        None => OnHit::Trace,
    };
    let loc = symbols.symbolize(addr, false);
    Ok(Planned {
        traced: Traced {
            label: s.location.clone(),
            addr,
            entry: loc.function.is_some() && loc.offset == 0,
        },
        rule: HitRule {
            condition,
            ignore: s.ignore,
            action,
        },
    })
}

/// Why the trace ended.
enum End {
    Time,
    Signal(&'static str),
    Exited(String),
    OutputClosed,
}

impl End {
    fn text(&self, seconds: Option<f64>) -> String {
        match self {
            End::Time => format!("ended after --for {}", seconds.unwrap_or(0.0)),
            End::Signal(s) => format!("ended on {s}"),
            End::Exited(how) => format!("process exited ({how})"),
            End::OutputClosed => "output closed".into(),
        }
    }
}

fn signals() -> std::io::Result<Receiver<&'static str>> {
    let (tx, rx) = unbounded();
    crate::quit_signals::forward(tx, |name| name)?;
    Ok(rx)
}

/// The command: hits on stdout, notices and errors on stderr; 0, or 1 with a one-line error.
pub fn run(req: &Request) -> i32 {
    match trace(req) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("ptscope: {e}");
            1
        }
    }
}

fn trace(req: &Request) -> Result<(), String> {
    if req.locations.is_empty() {
        return Err("trace: give at least one location (a function name or an address)".into());
    }
    let stop_signals = signals().map_err(|e| format!("cannot catch SIGINT: {e}"))?;
    let symbols = Symbolizer::new(req.pid).map_err(|e| e.to_string())?;
    // Every location is worked out before the process is touched: bad input leaves it as it was.
    let planned = req
        .locations
        .iter()
        .map(|l| plan(&symbols, l))
        .collect::<Result<Vec<_>, _>>()?;
    let opts = Options {
        stop_on_thread_events: false,
        ..Options::default()
    };
    let h = TracerHandle::attach(req.pid, opts).map_err(|e| e.to_string())?;
    match h.call(Command::Stop) {
        Ok(_) => {}
        Err(e) => return Err(e.to_string()),
    }
    for p in &planned {
        let cmd = Command::AddBreakpointWith {
            addr: p.traced.addr,
            rule: Box::new(p.rule.clone()),
        };
        if let Err(e) = h.call(cmd) {
            // Detached by the drop of the handle, bytes back.
            return Err(format!("`{}` at {:#x}: {e}", p.traced.label, p.traced.addr));
        }
    }
    // What the attach reported (its all-stop among it) comes before the run: the loop below
    // takes every all-stop after the Continue for one the trace did not ask for.
    let before: Vec<_> = h.events().try_iter().collect();
    h.call(Command::Continue).map_err(|e| e.to_string())?;
    let started = Instant::now();
    let labels: Vec<String> = planned
        .iter()
        .map(|p| format!("{} ({:#x})", p.traced.label, p.traced.addr))
        .collect();
    eprintln!(
        "ptscope: tracing process {} at {}{}; Ctrl-C ends it",
        req.pid,
        labels.join(", "),
        req.seconds.map_or(String::new(), |s| format!(" for {s} s"))
    );
    let mut report = Report::new(req.json, planned.into_iter().map(|p| p.traced).collect());
    let mut printer = Printer::new(&symbols);
    for ev in before {
        if !matches!(ev.kind, EventKind::AllStopped(_)) {
            let _ = printer.event(&mut report, ev);
        }
    }
    let deadline = match req.seconds {
        Some(s) => after(Duration::from_secs_f64(s.max(0.0))),
        None => never(),
    };
    let end = loop {
        select! {
            recv(h.events()) -> ev => match ev {
                Ok(ev) => {
                    if let EventKind::AllStopped(snap) = &ev.kind {
                        // A trace never holds the process: a stop the rules did not ask for
                        // is run on (a job-control stop stays one: Continue listens there), so
                        // that the trace cannot hang with the process stopped. The common one
                        // is a thread's exit event-stop when the process ends (exit_group):
                        // the summary names the exit, so that one is not said twice.
                        if let Some(text) = stop_text(snap) {
                            eprintln!("ptscope: {text}; continuing");
                        }
                        h.send(Command::Continue);
                    }
                    if let Some(end) = printer.event(&mut report, ev) {
                        break end;
                    }
                }
                Err(_) => break End::Exited("tracer ended".into()),
            },
            recv(stop_signals) -> sig => break End::Signal(sig.unwrap_or("a signal")),
            recv(deadline) -> _ => break End::Time,
        }
    };
    let elapsed = started.elapsed();
    if !matches!(end, End::Exited(_)) {
        // Detaching stops every thread first: the hits reported before that are still printed.
        match h.call(Command::Detach) {
            Ok(_) | Err(TraceError::ProcessExited) | Err(TraceError::Detached) => {}
            Err(e) => eprintln!("ptscope: detach: {e}"),
        }
        for ev in h.events().try_iter() {
            let _ = printer.event(&mut report, ev);
        }
    }
    drop(h);
    printer.line(&report.summary(elapsed, &end.text(req.seconds)));
    printer.flush();
    Ok(())
}

/// What stopped the process, for the note of a stop the trace did not ask for; None for a
/// thread about to exit.
fn stop_text(snap: &crate::tracer::Snapshot) -> Option<String> {
    let by = snap
        .stopped_by
        .and_then(|tid| snap.threads.iter().find(|t| t.tid == tid));
    match by.and_then(|t| t.cause.map(|c| (t.tid, c))) {
        Some((_, StopCause::ThreadExiting { .. })) => None,
        Some((tid, cause)) => Some(format!("the process stopped ({cause}, thread {tid})")),
        None => Some("the process stopped".to_string()),
    }
}

/// Turns events into output lines, naming callers once per address.
struct Printer<'a> {
    symbols: &'a Symbolizer,
    callers: HashMap<u64, String>,
    names: HashMap<crate::tracer::Tid, String>,
    out: std::io::BufWriter<std::io::Stdout>,
    last_flush: Instant,
    closed: bool,
}

impl<'a> Printer<'a> {
    fn new(symbols: &'a Symbolizer) -> Self {
        Printer {
            symbols,
            callers: HashMap::new(),
            names: HashMap::new(),
            out: std::io::BufWriter::with_capacity(1 << 16, std::io::stdout()),
            last_flush: Instant::now(),
            closed: false,
        }
    }

    fn event(&mut self, report: &mut Report, ev: crate::tracer::Event) -> Option<End> {
        match ev.kind {
            EventKind::TraceHit(hit) => {
                self.names.insert(hit.tid, hit.name.clone());
                let caller = hit.stack_top.map(|r| self.caller(r));
                let line = report.hit(ev.at, &hit, caller.as_deref());
                self.line(&line);
            }
            EventKind::Logged(l) => {
                let name = self.name(l.tid, "");
                let line = report.logged(ev.at, &l, &name);
                self.line(&line);
            }
            EventKind::Note { text, .. } => {
                eprintln!("ptscope: {}", crate::text::sanitize(&text));
            }
            EventKind::ProcessExited(how) => return Some(End::Exited(how.to_string())),
            EventKind::Detached => return Some(End::Exited("detached".into())),
            _ => {}
        }
        if self.closed {
            return Some(End::OutputClosed);
        }
        None
    }

    /// A thread's name as the engine read it at its first hit, for a logpoint's line.
    fn name(&mut self, tid: crate::tracer::Tid, otherwise: &str) -> String {
        let pid = self.symbols.pid();
        self.names
            .entry(tid)
            .or_insert_with(|| {
                let now = crate::procinfo::tasks::thread_name(pid, tid);
                if now.is_empty() {
                    otherwise.to_string()
                } else {
                    now
                }
            })
            .clone()
    }

    fn caller(&mut self, ret: u64) -> String {
        let symbols = self.symbols;
        self.callers
            .entry(ret)
            .or_insert_with(|| symbols.symbolize(ret, true).to_string())
            .clone()
    }

    fn line(&mut self, line: &str) {
        if self.closed {
            return;
        }
        if writeln!(self.out, "{line}").is_err() {
            self.closed = true;
            return;
        }
        if self.last_flush.elapsed() > Duration::from_millis(100) {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.out.flush().is_err() {
            self.closed = true;
        }
        self.last_flush = Instant::now();
    }
}
