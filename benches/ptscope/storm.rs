//! Figure 6: how soon a consumer of the event stream, and the UI's frame, show a stop; what a
//! storm of thread births costs the tracer and the UI.

use super::figures::{gdb_missing, Plan, RawRunning};
use super::gdb;
use super::lab::{self, Lab};
use super::pts;
use super::raw;
use super::table::{median, seconds, Goal, Kind, Row};
use super::ui;
use ptscope::tracer::{Command, Options};
use std::time::{Duration, Instant};

pub const BIRTHS: u32 = 10_000;

pub fn latency(plan: &Plan, rows: &mut Vec<Row>) {
    let lab = lab::start(2);
    let victim = lab::task_ids(lab.pid)[1];
    let rounds = plan.scale_rounds(200);
    let mut row = Row::new(
        "6. SIGUSR1 sent -> all-stop seen by the consumer",
        Kind::Time,
        "",
        Goal::None,
    );
    row.gdb = Err("n/a".into());
    let mut frame = Row::new(
        "6. UI: SIGUSR1 sent -> frame showing STOPPED",
        Kind::Time,
        "",
        Goal::None,
    );
    frame.gdb = Err("n/a".into());
    for _ in 0..plan.reps.min(3) {
        let r = raw::stop_latency(lab.pid, victim, rounds);
        row.raw.push(median_secs(&r));
        let p = pts::Running::start(lab.pid, Options::default());
        let mut got = Vec::new();
        for _ in 0..rounds {
            pts::drain(&p.handle);
            let t0 = Instant::now();
            // SAFETY: tgkill(2) takes plain integers; the lab handles SIGUSR1.
            unsafe { libc::syscall(libc::SYS_tgkill, lab.pid, victim, libc::SIGUSR1) };
            let snap = pts::all_stopped(&p.handle);
            got.push(t0.elapsed());
            assert_eq!(snap.stopped_by, Some(victim), "stopped by the signal");
            p.handle.call(Command::Continue).expect("continue");
        }
        row.pts.push(median_secs(&got));
        p.finish();
        lab::assert_untraced_and_running(lab.pid);

        let u = ui::Ui::start(lab.pid, Options::default());
        u.key('c');
        u.await_state("RUNNING");
        let mut got = Vec::new();
        for _ in 0..rounds {
            u.skip_frames();
            let t0 = Instant::now();
            // SAFETY: tgkill(2) takes plain integers; the lab handles SIGUSR1.
            unsafe { libc::syscall(libc::SYS_tgkill, lab.pid, victim, libc::SIGUSR1) };
            got.push(u.await_state("STOPPED") - t0);
            u.key('c');
            u.await_state("RUNNING");
        }
        frame.pts.push(median_secs(&got));
        frame.raw.push(*row.raw.last().expect("raw measured"));
        u.finish();
        lab::assert_untraced_and_running(lab.pid);
    }
    rows.extend([row, frame]);
}

fn median_secs(v: &[Duration]) -> f64 {
    let s: Vec<f64> = v.iter().map(Duration::as_secs_f64).collect();
    median(&s).unwrap_or(0.0)
}

/// Waits for the lab's `storm N` answer while taking ptscope's events (if attached).
fn await_storm(lab: &Lab, h: Option<&pts::Running>) -> usize {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut events = 0;
    loop {
        if lab.poll_line("storm ").is_some() {
            return events;
        }
        assert!(Instant::now() < deadline, "storm did not end in time");
        match h {
            Some(r) => {
                if r.handle
                    .events()
                    .recv_timeout(Duration::from_millis(2))
                    .is_ok()
                {
                    events += 1 + pts::drain(&r.handle);
                }
            }
            None => std::thread::sleep(Duration::from_millis(1)),
        }
    }
}

pub fn storm(plan: &Plan, rows: &mut Vec<Row>, notes: &mut Vec<String>) {
    let births = plan.scale_rounds(BIRTHS);
    let mut wall = Row::new(
        format!("6. storm of {births} thread births: wall time"),
        Kind::Time,
        "",
        // Issue 12: faster than gdb, with tracer CPU within 2x the raw loop's.
        Goal::OfGdb(1.0),
    );
    let mut cpu = Row::new(
        format!("6. storm of {births} thread births: tracer CPU"),
        Kind::Cpu,
        "",
        Goal::OfRaw(0.5),
    );
    let mut frames = Vec::new();
    let mut messages = Vec::new();
    let mut consumer = Row::new(
        "6. storm: UI thread CPU (run loop + TestBackend 120x35)",
        Kind::Cpu,
        "",
        Goal::None,
    );
    consumer.ratios = false;
    consumer.gdb = Err("".into());
    let mut untraced = Vec::new();
    gdb_missing(plan, &mut wall);
    gdb_missing(plan, &mut cpu);
    let mut lab = lab::start(2);
    let cmd = format!("storm {births}");
    for i in 0..plan.reps.min(3) {
        let t0 = Instant::now();
        lab.send(&cmd).expect("storm command sent");
        await_storm(&lab, None);
        untraced.push(t0.elapsed().as_secs_f64());

        let r = RawRunning::start(lab.pid, true);
        let (t0, c0) = (Instant::now(), r.cpu_ns());
        lab.send(&cmd).expect("storm command sent");
        await_storm(&lab, None);
        wall.raw.push(t0.elapsed().as_secs_f64());
        cpu.raw.push((r.cpu_ns() - c0) as f64 / 1e9);
        r.finish();

        let opts = Options {
            stop_on_thread_events: false,
            ..Options::default()
        };
        let u = ui::Ui::start(lab.pid, opts);
        u.key('c');
        u.await_state("RUNNING");
        let (t0, c0, m0) = (
            Instant::now(),
            lab::thread_cpu_ns(u.tracer_tid),
            lab::thread_cpu_ns(u.ui_tid),
        );
        lab.send(&cmd).expect("storm command sent");
        await_storm(&lab, None);
        wall.pts.push(t0.elapsed().as_secs_f64());
        cpu.pts
            .push((lab::thread_cpu_ns(u.tracer_tid) - c0) as f64 / 1e9);
        consumer
            .pts
            .push((lab::thread_cpu_ns(u.ui_tid) - m0) as f64 / 1e9);
        let stats = u.finish();
        frames.push(stats.frames as f64);
        messages.push(stats.messages as f64);

        if plan.gdb_turn(i) && i == 0 {
            let g = gdb::Running::start(lab.pid, &["set print thread-events off"]);
            let (t0, c0) = (Instant::now(), lab::process_cpu_ns(g.pid()));
            lab.send(&cmd).expect("storm command sent");
            await_storm(&lab, None);
            wall.gdb_push(t0.elapsed().as_secs_f64());
            cpu.gdb_push((lab::process_cpu_ns(g.pid()) - c0) as f64 / 1e9);
            g.finish();
        }
        lab::assert_untraced_and_running(lab.pid);
    }
    notes.push(format!(
        "6. the same storm with no tracer takes {} (median)",
        seconds(median(&untraced).unwrap_or(0.0))
    ));
    notes.push(format!(
        "6. during the storm the UI applied {:.0} messages in {:.0} frames (medians)",
        median(&messages).unwrap_or(0.0),
        median(&frames).unwrap_or(0.0)
    ));
    rows.extend([wall, cpu, consumer]);
}
