//! The `=` and `w` prompts through `update`: what is sent, what the replies and events do to
//! the model, and what is refused before anything is sent.

use super::*;
use crate::tracer::debugregs::WatchKind;
use crate::tracer::event::Reply;
use crate::tracer::event::{WatchHit, WatchpointInfo, WriteRecord};
use crate::ui::fixtures::*;
use crate::ui::model::StatusKind;

fn status(m: &Model) -> (StatusKind, String) {
    let s = m.status.line.clone().expect("a status line");
    (s.kind, s.text)
}

fn last_log(m: &Model) -> LogBody {
    m.log.lines.back().expect("a log line").body.clone()
}

#[test]
fn a_register_edit_is_sent_logged_with_the_old_value_and_highlighted() {
    let mut m = demo_model();
    let tid = PID + 1;
    let old = m.threads.rows[&tid].regs.unwrap();
    let fx = type_prompt(&mut m, Msg::EditPrompt, "rax = 0x10", &FakeSymbols);
    let cmds = commands(&fx);
    assert_eq!(
        cmds,
        vec![Command::SetRegister {
            tid,
            name: "rax".into(),
            value: 0x10
        }]
    );
    m.sent(7, cmds[0].clone());
    let rec = WriteRecord::Register {
        tid,
        name: "rax".into(),
        old: old.get("rax").unwrap(),
        asked: 0x10,
        now: 0x10,
    };
    let text = rec.to_string();
    update(&mut m, Msg::Tracer(event(50, 5000, EventKind::Wrote(rec))));
    assert_eq!(last_log(&m), LogBody::Text(text.clone()));
    assert_eq!(status(&m), (StatusKind::Info, text));
    let mut new = old;
    new.set("rax", 0x10);
    reply(&mut m, 7, Ok(Reply::Registers(Box::new(new))));
    let row = &m.threads.rows[&tid];
    assert_eq!(row.regs.and_then(|r| r.get("rax")), Some(0x10));
    assert_eq!(row.prev_regs, Some(old), "the change shows as after a step");
    assert_eq!(
        status(&m).0,
        StatusKind::Info,
        "the reply keeps the write's line"
    );
}

#[test]
fn memory_edits_write_bytes_and_reread_the_memory_pane() {
    let mut m = demo_model();
    with_memory(&mut m, 0x7ffd_5a3c_1e00, 64, 64);
    let rsp = m.threads.rows[&(PID + 1)].regs.unwrap().rsp();
    for (text, addr, bytes) in [
        (
            "*rsp+8 = de ad be ef",
            rsp + 8,
            vec![0xde, 0xad, 0xbe, 0xef],
        ),
        ("*(u16*)rsp = 0x1234", rsp, vec![0x34, 0x12]),
        ("*read = \"hi\\n\"", 0x7f00_0000_1000, b"hi\n".to_vec()),
        ("*rsp = -1", rsp, vec![0xff; 8]),
    ] {
        let fx = type_prompt(&mut m, Msg::EditPrompt, text, &FakeSymbols);
        assert_eq!(
            commands(&fx),
            vec![Command::WriteMemory { addr, bytes }],
            "{text}"
        );
    }
    m.sent(
        8,
        Command::WriteMemory {
            addr: rsp,
            bytes: vec![0xff; 8],
        },
    );
    let fx = reply(&mut m, 8, Ok(Reply::Done));
    assert!(
        commands(&fx).iter().any(|c| matches!(
            c,
            Command::ReadMemory {
                addr: 0x7ffd_5a3c_1e00,
                ..
            }
        )),
        "{fx:?}"
    );
}

#[test]
fn edits_that_cannot_be_done_say_why_and_send_nothing() {
    let mut m = demo_model();
    for (text, why) in [
        ("rax", "write TARGET = VALUE"),
        ("eax = 1", "`eax` is not a register"),
        ("*(u8*)rsp = 0x100", "0x100 does not fit in 1 bytes"),
        ("rip = nosuch", "no symbol named `nosuch`"),
        ("rax = \"x\"", "a register takes a number"),
    ] {
        let fx = type_prompt(&mut m, Msg::EditPrompt, text, &FakeSymbols);
        assert!(commands(&fx).is_empty(), "{text}");
        let (kind, line) = status(&m);
        assert_eq!(kind, StatusKind::Error, "{text}");
        assert!(line.starts_with(why), "{text}: {line}");
    }
    // Running: the prompt does not even open.
    update(&mut m, Msg::Tracer(event(60, 6000, EventKind::Resumed)));
    for open in [Msg::EditPrompt, Msg::WatchPrompt] {
        update(&mut m, open);
        assert!(!m.prompt.is_open());
        assert!(
            status(&m).1.contains("press s to stop it first"),
            "{:?}",
            status(&m)
        );
    }
    // And an answer that comes back after the process went on running is not sent.
    let late = Msg::EditResolved {
        text: "rax = 1".into(),
        result: Ok(crate::ui::assign::Edit::Register {
            tid: PID + 1,
            name: "rax".into(),
            value: 1,
        }),
    };
    assert!(commands(&update(&mut m, late)).is_empty());
    assert_eq!(status(&m).0, StatusKind::Error);
}

fn watch_info(addr: u64) -> WatchpointInfo {
    WatchpointInfo {
        slot: 0,
        addr,
        len: 4,
        kind: WatchKind::ReadWrite,
        hits: 0,
        value: 0x41,
    }
}

#[test]
fn a_watchpoint_is_added_listed_hit_and_deleted() {
    let mut m = demo_model();
    let fx = type_prompt(&mut m, Msg::WatchPrompt, "0x1000 r len 4", &FakeSymbols);
    let cmds = commands(&fx);
    assert_eq!(
        cmds,
        vec![Command::AddWatchpoint {
            addr: 0x1000,
            kind: WatchKind::ReadWrite,
            len: Some(4)
        }]
    );
    let fx = type_prompt(&mut m, Msg::WatchPrompt, "read", &FakeSymbols);
    assert_eq!(
        commands(&fx),
        vec![Command::AddWatchpoint {
            addr: 0x7f00_0000_1000,
            kind: WatchKind::Write,
            len: None
        }]
    );
    let fx = type_prompt(&mut m, Msg::WatchPrompt, "0x1000 len 3", &FakeSymbols);
    assert!(commands(&fx).is_empty());
    assert_eq!(
        status(&m),
        (StatusKind::Error, "len takes 1, 2, 4 or 8 (bytes)".into())
    );

    m.sent(9, cmds[0].clone());
    reply(&mut m, 9, Ok(Reply::Watchpoint(watch_info(0x1000))));
    assert_eq!(m.breakpoints.watches, vec![watch_info(0x1000)]);
    assert!(status(&m)
        .1
        .contains("reads and writes of 4 bytes at 0x1000 with DR0"));

    // A hit: counted, logged with the name of the PC, and the stop's status line says it.
    let hit = WatchHit {
        tid: PID + 1,
        slot: 0,
        addr: 0x1000,
        len: 4,
        kind: WatchKind::ReadWrite,
        old: 0x41,
        new: 0x42,
        pc: HOT,
        hits: 1,
    };
    update(
        &mut m,
        Msg::Tracer(event(70, 7000, EventKind::WatchpointHit(hit))),
    );
    assert_eq!(last_log(&m), LogBody::Watch(hit));
    assert_eq!(
        (
            m.breakpoints.watches[0].hits,
            m.breakpoints.watches[0].value
        ),
        (1, 0x42)
    );
    let mut snap = demo_snapshot();
    snap.threads[1].cause = Some(StopCause::Watchpoint { addr: 0x1000 });
    snap.watchpoints = vec![WatchpointInfo {
        hits: 1,
        value: 0x42,
        ..watch_info(0x1000)
    }];
    update(
        &mut m,
        Msg::Tracer(event(71, 7001, EventKind::AllStopped(Box::new(snap)))),
    );
    assert_eq!(
        status(&m).1,
        "all threads stopped: watchpoint 0x1000 written by 4243 at <ptscope_demo_hot>: 0x41 -> 0x42"
    );

    // d on the watchpoint (listed after the two breakpoints) deletes it.
    m.screen.focus = Focus::Breakpoints;
    update(&mut m, Msg::End);
    let fx = update(&mut m, Msg::DeleteBreakpoint);
    assert_eq!(
        commands(&fx),
        vec![Command::RemoveWatchpoint { addr: 0x1000 }]
    );
    m.sent(10, Command::RemoveWatchpoint { addr: 0x1000 });
    reply(&mut m, 10, Ok(Reply::Done));
    assert!(m.breakpoints.watches.is_empty());
    assert_eq!(m.breakpoints.selected, 1, "the selection stays in the list");
}
