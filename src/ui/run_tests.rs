use super::*;
use crate::tracer::event::{EventKind, Transition};
use crate::tracer::thread::ThreadState;
use crate::ui::fixtures::*;
use crossbeam_channel::{unbounded, Sender};
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyModifiers};
use std::cell::RefCell;

struct FakeTracer {
    events: Receiver<Event>,
    sent: RefCell<Vec<Command>>,
}

impl Tracer for FakeTracer {
    fn send(&self, cmd: Command) -> u64 {
        let mut s = self.sent.borrow_mut();
        s.push(cmd);
        s.len() as u64
    }
    fn events(&self) -> &Receiver<Event> {
        &self.events
    }
}

fn key(c: char) -> Input {
    Input::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

fn birth(seq: u64, tid: i32) -> Event {
    let t = Transition {
        tid,
        old: ThreadState::Running,
        new: ThreadState::Running,
        cause: None,
        status: None,
        note: "new thread",
    };
    event(seq, seq, EventKind::Transition(t))
}

fn setup() -> (FakeTracer, Sender<Event>, Sender<Input>, Receiver<Input>) {
    let (ev_tx, ev_rx) = unbounded();
    let (in_tx, in_rx) = unbounded();
    (
        FakeTracer {
            events: ev_rx,
            sent: RefCell::new(Vec::new()),
        },
        ev_tx,
        in_tx,
        in_rx,
    )
}

#[test]
fn a_key_is_not_queued_behind_a_storm_of_births() {
    let (tracer, ev_tx, in_tx, in_rx) = setup();
    for i in 0..10_000 {
        ev_tx.send(birth(i, 100_000 + i as i32)).unwrap();
    }
    in_tx.send(key('q')).unwrap();
    let mut term = Terminal::new(TestBackend::new(120, 35)).unwrap();
    let mut m = demo_model();
    let stats = run(&mut term, &tracer, &mut m, &in_rx, None).unwrap();
    assert!(in_rx.is_empty(), "it quit on the q");
    // Keys are taken before the rest of a burst: at most the one event select! picked first.
    assert!(
        m.threads.rows.len() <= 8,
        "{} threads applied before the key",
        m.threads.rows.len()
    );
    assert!(stats.frames <= 1, "{stats:?}");
}

#[test]
fn a_storm_is_drawn_in_a_few_frames_and_keys_still_work() {
    let (tracer, ev_tx, in_tx, in_rx) = setup();
    let feeder = std::thread::spawn(move || {
        for i in 0..10_000 {
            ev_tx.send(birth(i, 100_000 + i as i32)).unwrap();
        }
        // Keep the channel open; the loop ends on the key.
        ev_tx
    });
    let mut term = Terminal::new(TestBackend::new(120, 35)).unwrap();
    let mut m = demo_model();
    let keys = std::thread::spawn(move || {
        // Wait (bounded) for the storm to be queued, then type: Down, Tab, quit.
        let ev_tx = feeder.join().unwrap();
        in_tx.send(key('j')).unwrap();
        in_tx
            .send(Input::Key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE)))
            .unwrap();
        in_tx.send(key('?')).unwrap();
        in_tx.send(key('x')).unwrap();
        in_tx.send(key('q')).unwrap();
        ev_tx
    });
    let t0 = Instant::now();
    let stats = run(&mut term, &tracer, &mut m, &in_rx, None).unwrap();
    let _keep_open = keys.join().unwrap();
    assert!(in_rx.is_empty(), "it quit on the q, the last key");
    assert!(
        t0.elapsed() < Duration::from_secs(20),
        "took {:?}",
        t0.elapsed()
    );
    assert_eq!(
        m.screen.focus,
        crate::ui::focus::Focus::Code,
        "Tab was applied"
    );
    assert!(!m.screen.help, "? opened the help and x closed it");
    // Every frame covers at least a frame's worth of events, so 10,000 births never mean
    // 10,000 draws.
    assert!(stats.frames < 2_000, "{stats:?}");
}

#[test]
fn commands_reach_the_tracer_with_their_ids() {
    let (tracer, ev_tx, in_tx, in_rx) = setup();
    let mut term = Terminal::new(TestBackend::new(120, 35)).unwrap();
    let mut m = demo_model();
    in_tx.send(key('n')).unwrap();
    in_tx.send(key('c')).unwrap();
    in_tx.send(key('q')).unwrap();
    drop(ev_tx);
    run(&mut term, &tracer, &mut m, &in_rx, None).unwrap();
    let sent = tracer.sent.borrow().clone();
    assert_eq!(
        sent,
        vec![Command::Step { tid: PID + 1 }, Command::Continue]
    );
    assert_eq!(m.pending.get(&1), Some(&Command::Step { tid: PID + 1 }));
    assert_eq!(m.pending.get(&2), Some(&Command::Continue));
}

#[test]
fn every_event_of_a_burst_is_applied_before_a_later_signal() {
    let (tracer, ev_tx, in_tx, in_rx) = setup();
    let mut term = Terminal::new(TestBackend::new(120, 35)).unwrap();
    let mut m = demo_model();
    for i in 0..500 {
        ev_tx.send(birth(i, 100_000 + i as i32)).unwrap();
    }
    // A signal from outside ends the loop like q.
    let sig = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ev_tx.is_empty() && Instant::now() < deadline {
            std::thread::yield_now();
        }
        in_tx.send(Input::Signal("SIGTERM")).unwrap();
    });
    run(&mut term, &tracer, &mut m, &in_rx, None).unwrap();
    sig.join().unwrap();
    let quit = m.status.line.clone().map(|s| s.text);
    assert_eq!(quit.as_deref(), Some("SIGTERM: quitting"));
    let n = m.threads.rows.len();
    assert_eq!(n, 507, "every birth was applied before the signal");
    draw(&mut term, &m).unwrap();
    let screen = format!("{}", term.backend());
    assert!(screen.contains(&format!("Threads ({n})")), "{screen}");
}

#[test]
fn names_come_from_the_symbol_thread() {
    let (tracer, ev_tx, in_tx, in_rx) = setup();
    let (ask_tx, ask_rx) = unbounded::<SymbolAsk>();
    let (kernel_tx, _kernel_rx) = unbounded::<KernelAsk>();
    let (analysis_tx, _analysis_rx) = unbounded();
    let (ans_tx, ans_rx) = unbounded();
    let pending_answers = ans_rx.clone();
    let namer = Workers {
        symbols: ask_tx,
        kernel: kernel_tx,
        analysis: analysis_tx,
        answers: ans_rx,
    };
    let mut term = Terminal::new(TestBackend::new(120, 35)).unwrap();
    let mut m = crate::ui::app::Model::new(PID, "demo", true);
    let k = EventKind::AllStopped(Box::new(demo_snapshot()));
    ev_tx.send(event(1, 1, k)).unwrap();
    let worker = std::thread::spawn(move || {
        let (image, pcs) = loop {
            match ask_rx.recv_timeout(Duration::from_secs(10)).unwrap() {
                SymbolAsk::Names { image, pcs } => break (image, pcs),
                SymbolAsk::Unwind(_)
                | SymbolAsk::Resolve(_)
                | SymbolAsk::Code(_)
                | SymbolAsk::Source(_)
                | SymbolAsk::Edit(_) => continue,
            }
        };
        let names = pcs
            .iter()
            .map(|pc| (*pc, Some(format!("f{pc:x}"))))
            .collect();
        ans_tx.send(Msg::PcNames { image, names }).unwrap();
        // Quit once the loop has taken the answer (it applies a message as soon as it takes
        // it); sent together, the loop may take the key first, and keys win.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !pending_answers.is_empty() {
            assert!(std::time::Instant::now() < deadline, "answer never taken");
            std::thread::sleep(Duration::from_millis(1));
        }
        in_tx.send(key('q')).unwrap();
        pcs
    });
    run(&mut term, &tracer, &mut m, &in_rx, Some(&namer)).unwrap();
    let asked = worker.join().unwrap();
    // The threads' PCs and the breakpoints' addresses (the fixture's second one is not a PC).
    assert_eq!(asked, vec![HOT, 0x55d0_c0a0_2000, 0x7f3a_1c29_5d7e]);
    assert_eq!(m.threads.names.get(HOT), Some(format!("f{HOT:x}").as_str()));
}

fn keys(in_tx: &Sender<Input>, text: &str) {
    for c in text.chars() {
        let code = if c == '\r' {
            KeyCode::Enter
        } else {
            KeyCode::Char(c)
        };
        in_tx
            .send(Input::Key(KeyEvent::new(code, KeyModifiers::NONE)))
            .unwrap();
    }
}

#[test]
fn without_workers_prompts_are_worked_out_in_the_loop() {
    let (tracer, _ev_tx, in_tx, in_rx) = setup();
    let mut term = Terminal::new(TestBackend::new(120, 35)).unwrap();
    let mut m = demo_model();
    keys(&in_tx, "b0x10\rbptscope_demo_hot+1\rq");
    run(&mut term, &tracer, &mut m, &in_rx, None).unwrap();
    assert_eq!(
        tracer.sent.borrow().clone(),
        vec![
            Command::AddBreakpoint { addr: 0x10 },
            Command::AddBreakpoint { addr: HOT + 1 }
        ]
    );
}

#[test]
fn prompts_go_to_the_symbol_worker_and_come_back() {
    let (tracer, _ev_tx, in_tx, in_rx) = setup();
    let (ask_tx, ask_rx) = unbounded::<SymbolAsk>();
    let (kernel_tx, _kernel_rx) = unbounded::<KernelAsk>();
    let (analysis_tx, _analysis_rx) = unbounded();
    let (ans_tx, ans_rx) = unbounded();
    let workers = Workers {
        symbols: ask_tx,
        kernel: kernel_tx,
        analysis: analysis_tx,
        answers: ans_rx,
    };
    let mut term = Terminal::new(TestBackend::new(120, 35)).unwrap();
    let mut m = demo_model();
    keys(&in_tx, "bread+4\r");
    let worker = std::thread::spawn(move || {
        let ask = loop {
            match ask_rx.recv_timeout(Duration::from_secs(10)).unwrap() {
                SymbolAsk::Resolve(r) => break r,
                _ => continue,
            }
        };
        ans_tx
            .send(Msg::resolved(
                &ask,
                resolve::answer(&ask, Some(&FakeSymbols), None),
            ))
            .unwrap();
        // The answer first, then the key that ends the loop (keys would be taken first).
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ans_tx.is_empty() {
            assert!(Instant::now() < deadline, "answer never taken");
            std::thread::sleep(Duration::from_millis(1));
        }
        keys(&in_tx, "q");
        ask.text.clone()
    });
    run(&mut term, &tracer, &mut m, &in_rx, Some(&workers)).unwrap();
    assert_eq!(worker.join().unwrap(), "read+4");
    assert_eq!(
        tracer.sent.borrow().clone(),
        vec![Command::AddBreakpoint {
            addr: 0x7f00_0000_1004
        }]
    );
}
