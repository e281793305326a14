//! The tracer's answers to commands the inspector sent, matched to them by id: what each
//! reply changes in the model and which effects follow.

use super::app::Model;
use super::code_update;
use super::model::code::AfterFailedRead;
use super::msg::Effect;
use crate::tracer::debugregs::WatchKind;
use crate::tracer::error::TraceError;
use crate::tracer::event::{Command, Reply};

/// The answer to a command sent earlier, matched to it by id.
pub fn on_reply(m: &mut Model, id: u64, result: Result<Reply, TraceError>) -> Vec<Effect> {
    let cmd = m.pending.remove(&id);
    let reply = match result {
        Ok(r) => r,
        Err(e) => {
            if let Some(Command::ReadMemory { addr, len }) = cmd {
                m.memory.read_failed(addr, len);
                let bps: Vec<u64> = m.breakpoints.addrs().collect();
                // The code pane's read: it retries or says so itself.
                match m.code.read_failed(addr, &bps) {
                    Some(AfterFailedRead::Read(c)) => return vec![Effect::Tracer(c)],
                    Some(AfterFailedRead::Decode(a)) => return vec![Effect::Disassemble(a)],
                    None => {}
                }
            }
            m.status.error(e.to_string());
            return Vec::new();
        }
    };
    match (cmd, reply) {
        (_, Reply::Snapshot(s)) => m.apply_snapshot(&s),
        (_, Reply::Memory(read)) => {
            let bps: Vec<u64> = m.breakpoints.addrs().collect();
            let regs = m
                .code
                .reading_for()
                .and_then(|t| m.threads.rows.get(&t))
                .and_then(|r| r.regs);
            let ask = m.code.read_arrived(&read, &bps, regs);
            m.memory.apply_read(read);
            return ask
                .map(|a| Effect::Disassemble(Box::new(a)))
                .into_iter()
                .collect();
        }
        (Some(Command::AddBreakpoint { addr }), Reply::Done) => {
            m.breakpoints.added(addr);
            // The code's breakpoint marks are redone.
            m.code.next_generation();
            // A line breakpoint's own words (moved to the next line, N locations) stay.
            if !m
                .breakpoints
                .by_line
                .iter()
                .any(|l| l.addrs.contains(&addr))
            {
                m.status.info(format!("breakpoint set at {addr:#x}"));
            }
        }
        (Some(Command::AddBreakpointWith { addr, rule }), Reply::Done) => {
            m.breakpoints.added(addr);
            let what = match (&rule.condition, &rule.action) {
                (_, crate::tracer::OnHit::Log(_)) => "logpoint",
                (Some(_), _) => "conditional breakpoint",
                _ => "breakpoint",
            };
            m.status.info(format!("{what} set at {addr:#x}"));
            // Its condition, ignore count and log text, as the tracer holds them.
            return vec![Effect::Tracer(Command::Snapshot)];
        }
        (Some(Command::RemoveBreakpoint { addr }), Reply::Done) => {
            m.breakpoints.removed(addr);
            m.code.next_generation();
            m.status.info(format!("breakpoint at {addr:#x} deleted"));
        }
        (
            Some(
                cmd
                @ (Command::StepOver { .. } | Command::Finish { .. } | Command::StepLine { .. }),
            ),
            Reply::Stepped(outcome),
        ) => {
            return code_update::stepped(m, &cmd, outcome);
        }
        (Some(Command::Step { tid }), Reply::Done) => {
            m.status
                .answer(format!("thread {tid} stepped one instruction"));
            // The step's registers and any memory it wrote.
            return std::iter::once(Effect::Tracer(Command::Snapshot))
                .chain(m.memory_read())
                .collect();
        }
        (Some(Command::SetRegister { tid, .. }), Reply::Registers(regs)) => {
            // The old registers become the ones to compare with: the change is highlighted
            // as after a step.
            if let Some(row) = m.threads.rows.get_mut(&tid) {
                row.set_regs(*regs);
            }
            m.backtrace.next_generation();
            m.backtrace.forget();
        }
        (Some(Command::WriteMemory { .. }), Reply::Done) => {
            // The stack may be what changed.
            m.backtrace.next_generation();
            m.backtrace.forget();
            return m.memory_read().into_iter().collect();
        }
        (Some(Command::AddWatchpoint { .. }), Reply::Watchpoint(w)) => {
            m.breakpoints.watch_added(w);
            let what = match w.kind {
                WatchKind::Write => "writes",
                WatchKind::ReadWrite => "reads and writes",
            };
            m.status.info(format!(
                "watching {} of {} bytes at {:#x} with DR{}; now {:#x}",
                what, w.len, w.addr, w.slot, w.value
            ));
        }
        (Some(Command::RemoveWatchpoint { addr }), Reply::Done) => {
            m.breakpoints.watch_removed(addr);
            m.status.info(format!("watchpoint at {addr:#x} deleted"));
        }
        (Some(Command::Stop), Reply::Done) => m.status.info("every thread stopped"),
        (Some(Command::Continue), Reply::Done) => m.status.info("continued"),
        _ => {}
    }
    Vec::new()
}
