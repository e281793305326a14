//! Hand-made tracer output for the model and snapshot tests: what a stopped demo looks like.

use crate::expr::{Env, ExprError};
use crate::procinfo::{SyscallState, ThreadKernelView};
use crate::regs::Registers;
use crate::tracer::event::{
    BreakpointInfo, Command, Event, EventKind, MemoryRead, ProcessState, Reply, Snapshot,
    ThreadInfo, Transition,
};
use crate::tracer::status::RawStatus;
use crate::tracer::thread::{StopCause, ThreadState, Tid};
use crate::ui::app::{update, Model};
use crate::ui::inspect::{BacktraceView, BtFrame};
use crate::ui::msg::{Effect, Msg};
use crate::ui::resolve;
use std::time::Duration;

pub const PID: i32 = 4242;
pub const HOT: u64 = 0x55d0_c0a0_1139;

pub fn regs(tid: Tid, rip: u64) -> Registers {
    let mut r = Registers::default();
    for (i, v) in r.0.iter_mut().enumerate() {
        *v = (tid as u64) << 8 | i as u64;
    }
    r.set("rip", rip);
    r.set("rsp", 0x7ffd_5a3c_1e40 - ((tid - PID) as u64) * 0x10_0000);
    r.set("eflags", 0x246);
    r.set("cs", 0x33);
    r.set("ss", 0x2b);
    r
}

pub fn thread(tid: Tid, name: &str, state: ThreadState, cause: Option<StopCause>) -> ThreadInfo {
    let stopped = state != ThreadState::Running;
    ThreadInfo {
        tid,
        name: name.to_string(),
        state,
        cause,
        regs: stopped.then(|| regs(tid, 0x7f3a_1c29_5d7e)),
        pending_signal: None,
        zombie: false,
    }
}

pub fn event(seq: u64, ms: u64, kind: EventKind) -> Event {
    Event {
        seq,
        at: Duration::from_millis(ms),
        kind,
    }
}

/// Feeds a reply to the command the model recorded under `id`.
pub fn reply(
    m: &mut Model,
    id: u64,
    result: Result<Reply, crate::tracer::error::TraceError>,
) -> Vec<Effect> {
    update(
        m,
        Msg::Tracer(event(id, 9000, EventKind::Reply { id, result })),
    )
}

pub fn demo_snapshot() -> Snapshot {
    use ThreadState::{Exiting, Stopped};
    let stop = Some(StopCause::Stopped);
    let mut hot = thread(
        PID + 1,
        "worker-1",
        Stopped,
        Some(StopCause::Breakpoint { addr: HOT }),
    );
    if let Some(r) = hot.regs.as_mut() {
        r.set_rip(HOT);
    }
    let mut sig = thread(PID + 5, "signaller", Stopped, stop);
    sig.pending_signal = Some(libc::SIGUSR1);
    Snapshot {
        pid: PID,
        state: ProcessState::Stopped,
        threads: vec![
            thread(PID, "ptscope", Stopped, stop),
            hot,
            thread(PID + 2, "worker-2", Stopped, stop),
            thread(PID + 3, "worker-3", Stopped, stop),
            thread(PID + 4, "waiter", Stopped, stop),
            sig,
            thread(
                PID + 6,
                "ephemeral",
                Exiting,
                Some(StopCause::ThreadExiting {
                    status: crate::tracer::status::ExitKind::Code { code: 0 },
                }),
            ),
        ],
        breakpoints: vec![
            BreakpointInfo {
                addr: HOT,
                hits: 3,
                rule: None,
            },
            BreakpointInfo {
                addr: 0x55d0_c0a0_2000,
                hits: 0,
                rule: None,
            },
        ],
        watchpoints: Vec::new(),
        stopped_by: Some(PID + 1),
    }
}

fn transition(
    tid: Tid,
    old: ThreadState,
    new: ThreadState,
    cause: Option<StopCause>,
    raw: Option<i32>,
    note: &'static str,
) -> EventKind {
    EventKind::Transition(Transition {
        tid,
        old,
        new,
        cause,
        status: raw.map(RawStatus::new),
        note,
    })
}

/// A stopped demo: threads, a breakpoint hit, a log with wait statuses, memory at rsp.
pub fn demo_model() -> Model {
    use ThreadState::*;
    let mut m = Model::new(PID, "/usr/bin/ptscope __demo demo", true);
    m.status.banner = Some(format!("ptscope_demo_hot = {HOT:#x}"));
    m.process.names.insert("ptscope_demo_hot".into(), HOT);
    // The addresses the model asks names for along the way, answered at the end.
    let mut unnamed = Vec::new();
    let mut feed = |m: &mut Model, msg: Msg| unnamed.extend(name_asks(&update(m, msg)));
    let evs = [
        transition(
            PID,
            Running,
            Stopped,
            Some(StopCause::Exec),
            Some(0x4057f),
            "exec",
        ),
        EventKind::Resumed,
        transition(
            PID,
            Running,
            Running,
            Some(StopCause::ThreadCreated { tid: PID + 6 }),
            Some(0x3057f),
            "clone passed on",
        ),
        EventKind::Note {
            tid: Some(PID + 5),
            text: "signal SIGUSR1 passed on".into(),
        },
        transition(
            PID + 1,
            Running,
            Stopping,
            Some(StopCause::Breakpoint { addr: HOT }),
            Some(0x57f),
            "our int3",
        ),
        transition(PID + 2, Running, Stopping, None, None, "interrupt sent"),
        transition(
            PID + 2,
            Stopping,
            Stopped,
            None,
            Some(0x80057f),
            "interrupted",
        ),
        transition(
            PID + 6,
            Stopping,
            Exiting,
            None,
            Some(0x6057f),
            "exit event",
        ),
    ];
    for (i, k) in evs.into_iter().enumerate() {
        feed(
            &mut m,
            Msg::Tracer(event(i as u64, 1000 + 137 * i as u64, k)),
        );
    }
    // The stop before this one, so the registers pane has changes to highlight.
    let mut before = demo_snapshot();
    if let Some(r) = before.threads[1].regs.as_mut() {
        r.set("rax", 0x29);
        r.set("rip", HOT - 0x10);
    }
    feed(
        &mut m,
        Msg::Tracer(event(19, 2000, EventKind::AllStopped(Box::new(before)))),
    );
    feed(
        &mut m,
        Msg::Tracer(event(
            20,
            2500,
            EventKind::AllStopped(Box::new(demo_snapshot())),
        )),
    );
    name_pcs(&mut m, unnamed);
    update(&mut m, Msg::Kernel(kernel_views()));
    let bt = chain_backtrace(m.backtrace.gen, PID + 1);
    update(&mut m, Msg::Backtrace(bt));
    m
}

fn view(
    tid: Tid,
    state: char,
    wchan: Option<&str>,
    syscall: &str,
    cpu_ms: u64,
) -> ThreadKernelView {
    ThreadKernelView {
        tid,
        comm: String::new(),
        state,
        wchan: wchan.map(str::to_string),
        syscall: SyscallState::parse(syscall),
        cpu_ms,
    }
}

/// /proc as read just before the stop: sleepers in futex, nanosleep and read, one on a CPU.
pub fn kernel_views() -> Vec<ThreadKernelView> {
    vec![
        view(
            PID,
            'S',
            Some("hrtimer_nanosleep"),
            "230 0x0 0x0 0x7ffd5a3c1e00 0x0 0x0 0x0 0x7ffd5a3c1dd8 0x7f3a1c295d7e",
            12,
        ),
        view(PID + 1, 'R', None, "running", 2_467),
        view(
            PID + 2,
            'S',
            Some("futex_wait_queue"),
            "202 0x7f3a1c4b3910 0x80 0x2 0x0 0x0 0x0 0x7f3a1b000e48 0x7f3a1c291f16",
            830,
        ),
        view(
            PID + 3,
            'D',
            Some("io_schedule"),
            "0 0x3 0x7f3a18000b70 0x10000 0x0 0x0 0x0 0x7f3a1a7fdd40 0x7f3a1c31ba5c",
            41_500,
        ),
        view(
            PID + 4,
            'S',
            Some("pipe_read"),
            "0 0x3 0x7ffd5a3c1e00 0x10 0x0 0x0 0x0 0x7f3a19ffe0c0 0x7f3a1c31ba5c",
            3,
        ),
        // Read after our stop: says nothing about before, so it is not shown.
        view(
            PID + 5,
            't',
            Some("ptrace_stop"),
            "-1 0x7f3a197fd0c0 0x7f3a1c295d7e",
            77,
        ),
    ]
}

/// What the symbol thread answers for the chain target's reader.
pub fn chain_backtrace(gen: u64, tid: Tid) -> BacktraceView {
    let f = |pc: u64, function: &str, module: &str, source: Option<&str>| BtFrame {
        pc,
        sp: 0x7f3a_1800_0000 + (pc & 0xff0),
        function: function.to_string(),
        module: module.to_string(),
        source: source.map(str::to_string),
    };
    BacktraceView {
        gen,
        tid,
        frames: vec![
            f(0x7f3a_1c31_ba5c, "read+0x4c", "libc.so.6", None),
            f(
                HOT + 0x2a,
                "ptscope_chain_c+0x2a",
                "ptscope",
                Some("src/target/chain.rs:21"),
            ),
            f(
                HOT + 0x6e,
                "ptscope_chain_b+0xe",
                "ptscope",
                Some("src/target/chain.rs:29"),
            ),
            f(
                HOT + 0x9e,
                "ptscope_chain_a+0xe",
                "ptscope",
                Some("src/target/chain.rs:35"),
            ),
            f(0x7f3a_1c29_4ac3, "start_thread+0x2f3", "libc.so.6", None),
            f(0x7f3a_1c32_6850, "__clone3+0x30", "libc.so.6", None),
        ],
        ended: None,
    }
}

pub fn with_memory(m: &mut Model, addr: u64, readable: usize, requested: usize) {
    m.memory.expr = "rsp".into();
    m.memory.addr = Some(addr);
    let bytes = (0..readable)
        .map(|i| {
            if i % 7 == 0 {
                b'A' + (i % 26) as u8
            } else {
                (i * 37) as u8
            }
        })
        .collect();
    m.memory.data = Some(MemoryRead {
        addr,
        bytes,
        requested,
    });
}

/// The addresses a batch of effects asks names for.
pub fn name_asks(fx: &[Effect]) -> Vec<u64> {
    fx.iter()
        .flat_map(|f| match f {
            Effect::NamePcs { pcs, .. } => pcs.clone(),
            _ => Vec::new(),
        })
        .collect()
}

/// The tracer commands among a batch of effects.
pub fn commands(fx: &[Effect]) -> Vec<Command> {
    fx.iter()
        .filter_map(|f| match f {
            Effect::Tracer(c) => Some(c.clone()),
            _ => None,
        })
        .collect()
}

/// What the process's symbols would say, without a process: one libc function.
pub struct FakeSymbols;

impl Env for FakeSymbols {
    fn symbol(&self, module: Option<&str>, name: &str) -> Result<u64, ExprError> {
        match (module, name) {
            (None | Some("libc"), "read") => Ok(0x7f00_0000_1000),
            _ => Err(ExprError::UnknownSymbol(name.to_string())),
        }
    }
}

/// Opens a prompt, types `text` and presses Enter; the symbol worker's part is played with
/// `symbols`. Returns the effects of the answer.
pub fn type_prompt(m: &mut Model, open: Msg, text: &str, symbols: &dyn Env) -> Vec<Effect> {
    update(m, open);
    for c in text.chars() {
        update(m, Msg::PromptChar(c));
    }
    let fx = update(m, Msg::PromptSubmit);
    answer_prompts(m, fx, symbols)
}

/// Plays the symbol worker for every `Effect::Resolve` and `Effect::ResolveEdit` (without
/// memory), feeding the answers back; the other effects are passed through.
pub fn answer_prompts(m: &mut Model, fx: Vec<Effect>, symbols: &dyn Env) -> Vec<Effect> {
    let mut out = Vec::new();
    for f in fx {
        match f {
            Effect::Resolve(ask) => {
                let result = resolve::answer(&ask, Some(symbols), None);
                let answer = crate::ui::breakpoint_spec::answer(&ask, result, symbols);
                out.extend(update(m, answer));
            }
            Effect::ResolveEdit(ask) => {
                let answer = Msg::EditResolved {
                    text: ask.text.clone(),
                    result: crate::ui::assign::evaluate(&ask, Some(symbols), None),
                };
                out.extend(update(m, answer));
            }
            other => out.push(other),
        }
    }
    out
}

/// Function names for the fixture's PCs, as the symbol thread would answer them.
pub fn name_pcs(m: &mut Model, pcs: Vec<u64>) {
    let names = pcs
        .into_iter()
        .map(|pc| {
            let name = match pc {
                HOT => Some("ptscope_demo_hot".to_string()),
                0x7f3a_1c29_5d7e => Some("clock_nanosleep+0x4e".to_string()),
                _ => None,
            };
            (pc, name)
        })
        .collect();
    let image = m.threads.names.image();
    update(m, Msg::PcNames { image, names });
}
