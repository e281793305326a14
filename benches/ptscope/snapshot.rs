//! Figure 7: snapshots that barely pause the process (issue 10). The pause is what the
//! target itself felt: `__demo heap --ticker` has a thread waking every millisecond that
//! keeps the longest gap it saw (`gap` reads and resets it); the pause is that gap less the
//! millisecond it sleeps. The whole command is its wall time, process start included.

use super::figures::Plan;
use super::lab;
use super::raw;
use super::table::{Goal, Kind, Row};
use super::ui;
use ptscope::tracer::Options;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

/// A `__demo heap --ticker` process: `workers` parked threads plus main, ticker and
/// control.
struct Ticker {
    child: Child,
    pid: i32,
    stdin: ChildStdin,
    lines: Receiver<String>,
}

impl Ticker {
    fn start(threads: usize, mb: u64) -> Ticker {
        let workers = threads.saturating_sub(3).max(1);
        let mut child = lab::tool(lab::ptscope_bin())
            .args(["__demo", "heap", "--ticker", "--mb", &mb.to_string()])
            .args(["--threads", &workers.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start heap demo");
        let out = child.stdout.take().expect("stdout");
        let stdin = child.stdin.take().expect("stdin");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        let ready = lines.recv_timeout(lab::TIMEOUT).expect("heap READY line");
        let v: serde_json::Value =
            serde_json::from_str(ready.trim_start_matches("READY ")).expect("READY json");
        let pid = v["pid"].as_i64().expect("pid") as i32;
        Ticker {
            child,
            pid,
            stdin,
            lines,
        }
    }

    /// The longest gap the ticker saw since the last call, in seconds.
    fn gap(&mut self) -> f64 {
        writeln!(self.stdin, "gap").expect("ask gap");
        self.stdin.flush().expect("flush");
        loop {
            let l = self.lines.recv_timeout(lab::TIMEOUT).expect("gap answer");
            if let Some(us) = l.strip_prefix("gap ") {
                return us.trim().parse::<f64>().expect("gap in us") / 1e6;
            }
        }
    }

    /// Runs `job` and returns (its wall time, the pause the ticker felt during it).
    fn measure(&mut self, job: impl FnOnce(i32)) -> (f64, f64) {
        // A quiet moment first, so that the gap read next belongs to the job.
        std::thread::sleep(Duration::from_millis(20));
        self.gap();
        let t0 = Instant::now();
        job(self.pid);
        let wall = t0.elapsed().as_secs_f64();
        // The ticker must have ticked after the job for its gap to cover all of it.
        std::thread::sleep(Duration::from_millis(3));
        let pause = (self.gap() - 1e-3).max(0.0);
        (wall, pause)
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run_ok(cmd: &mut Command, what: &str) {
    let status = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .stdin(Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("run {what}: {e}"));
    assert!(status.success(), "{what}: {status}");
}

fn ptscope_cmd(args: &[&str], pid: i32) {
    run_ok(
        Command::new(lab::ptscope_bin())
            .args(args)
            .arg(pid.to_string()),
        "ptscope",
    );
}

fn eu_stack(pid: i32) {
    run_ok(
        lab::tool("eu-stack").args(["-p", &pid.to_string()]),
        "eu-stack",
    );
}

fn gdb_bt(pid: i32) {
    run_ok(
        lab::tool("gdb")
            .args(["-nx", "-batch", "-iex", "set debuginfod enabled off", "-p"])
            .arg(pid.to_string())
            .args(["-ex", "thread apply all bt"])
            .env_remove("DEBUGINFOD_URLS"),
        "gdb",
    );
}

fn have(tool: &str) -> bool {
    lab::tool(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

pub fn snapshots(plan: &Plan, rows: &mut Vec<Row>) {
    let eu = have("eu-stack");
    for n in [10usize, 1000] {
        let mut t = Ticker::start(n, 1);
        let total = lab::task_ids(t.pid).len();
        let mut pause = Row::new(
            format!("7. `ptscope dump`, {total} threads: pause the target felt (other: eu-stack)"),
            Kind::Time,
            "",
            Goal::PauseOfRaw,
        );
        let goal = if n == 10 {
            Goal::OverOther(2.0)
        } else {
            Goal::OverOtherAndGdb(8.0, 10.0)
        };
        let mut whole = Row::new(
            format!("7. `ptscope dump`, {total} threads: whole command (other: eu-stack)"),
            Kind::Time,
            "",
            goal,
        );
        // A dump of files no dump has answered for (a new build, a first run): nothing
        // remembered, every mapped file parsed.
        let mut cold = Row::new(
            format!("7. `dump --no-cache`, {total} threads: whole, nothing remembered"),
            Kind::Time,
            "",
            goal,
        );
        // The same dump allowed every CPU (`--cpus N`; by default it leaves the target one):
        // what the default trades, in wall time, for the pause the target feels.
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let all_cpus = cpus.to_string();
        let mut pause_all = Row::new(
            format!("7. `dump --cpus {cpus}`, {total} threads: pause (raw: default dump)"),
            Kind::Time,
            "",
            Goal::None,
        );
        let mut whole_all = Row::new(
            format!("7. `dump --cpus {cpus}`, {total} threads: whole (raw: default dump)"),
            Kind::Time,
            "",
            Goal::None,
        );
        for r in [&mut pause_all, &mut whole_all] {
            r.gdb = Err("".into());
        }
        figures_gdb_missing(plan, &mut pause);
        figures_gdb_missing(plan, &mut whole);
        figures_gdb_missing(plan, &mut cold);
        if !eu {
            pause.other = Err("no eu-stack".into());
            whole.other = Err("no eu-stack".into());
            cold.other = Err("no eu-stack".into());
        }
        // Warm the page cache and the binaries once, unmeasured (and have the answers of
        // these files kept, as any earlier dump of them would have).
        ptscope_cmd(&["dump"], t.pid);
        for i in 0..plan.reps {
            let (w, p) = t.measure(|pid| {
                assert_eq!(raw::dump(pid), total, "raw dump saw every thread");
            });
            whole.raw.push(w);
            pause.raw.push(p);
            let (w, p) = t.measure(|pid| ptscope_cmd(&["dump"], pid));
            whole.pts.push(w);
            pause.pts.push(p);
            let (w, _) = t.measure(|pid| ptscope_cmd(&["dump", "--no-cache"], pid));
            cold.pts.push(w);
            cold.raw.push(*whole.raw.last().expect("raw measured"));
            if n == 10 {
                whole_all.raw.push(w);
                pause_all.raw.push(p);
                let (w, p) = t.measure(|pid| ptscope_cmd(&["dump", "--cpus", &all_cpus], pid));
                whole_all.pts.push(w);
                pause_all.pts.push(p);
            }
            if eu {
                let (w, p) = t.measure(eu_stack);
                whole.other_push(w);
                cold.other_push(w);
                pause.other_push(p);
            }
            if plan.gdb_turn(i) {
                let (w, p) = t.measure(gdb_bt);
                whole.gdb_push(w);
                cold.gdb_push(w);
                pause.gdb_push(p);
            }
            lab::assert_untraced_and_running(t.pid);
        }
        rows.extend([pause, whole, cold]);
        if n == 10 {
            rows.extend([pause_all, whole_all]);
        }
    }
    analysis_cost(plan, rows);
    core_vs_gcore(plan, rows);
    inspector_stop(plan, rows);
}

fn figures_gdb_missing(plan: &Plan, row: &mut Row) {
    super::figures::gdb_missing(plan, row);
}

/// `ptscope dump` against `dump --no-analysis` (in the raw column) on 1,000 threads in three
/// stack shapes.
fn analysis_cost(plan: &Plan, rows: &mut Vec<Row>) {
    let mut child = lab::tool(lab::ptscope_bin())
        .args(["__demo", "hung-pool", "--per-shape", "333"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start hung-pool");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("READY line");
    let v: serde_json::Value =
        serde_json::from_str(line.trim_start_matches("READY ")).expect("READY json");
    let pid = v["pid"].as_i64().expect("pid") as i32;
    let total = lab::task_ids(pid).len();
    let mut row = Row::new(
        format!("7. `ptscope dump` vs `--no-analysis` (raw column), {total} threads"),
        Kind::Time,
        "",
        Goal::OfRaw(1.0 / 1.2),
    );
    row.gdb = Err("".into());
    ptscope_cmd(&["dump"], pid);
    for _ in 0..plan.reps {
        let t0 = Instant::now();
        ptscope_cmd(&["dump", "--no-analysis"], pid);
        row.raw.push(t0.elapsed().as_secs_f64());
        let t0 = Instant::now();
        ptscope_cmd(&["dump"], pid);
        row.pts.push(t0.elapsed().as_secs_f64());
        lab::assert_untraced_and_running(pid);
    }
    rows.push(row);
    let _ = child.kill();
    let _ = child.wait();
}

/// `ptscope core` against gcore on 512 MiB of touched heap: wall time and pause.
fn core_vs_gcore(plan: &Plan, rows: &mut Vec<Row>) {
    let mb = if plan.quick { 64 } else { 512 };
    let mut t = Ticker::start(4, mb);
    let mut wall = Row::new(
        format!("7. `ptscope core`, {mb} MiB heap: whole command (other: gcore)"),
        Kind::Time,
        "",
        Goal::OverOther(1.0),
    );
    let mut pause = Row::new(
        format!("7. `ptscope core`, {mb} MiB heap: pause the target felt (other: gcore)"),
        Kind::Time,
        "",
        Goal::OverOther(5.0),
    );
    for r in [&mut wall, &mut pause] {
        r.gdb = Err("".into());
    }
    let gcore = have("gdb");
    let dir = std::env::temp_dir().join(format!("ptscope-bench-core-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let file = dir.join("core");
    for _ in 0..plan.reps.min(3) {
        let (w, p) = t.measure(|pid| {
            run_ok(
                Command::new(lab::ptscope_bin())
                    .args(["core", &pid.to_string(), "-o"])
                    .arg(&file),
                "ptscope core",
            )
        });
        wall.pts.push(w);
        pause.pts.push(p);
        let _ = std::fs::remove_file(&file);
        if gcore {
            let (w, p) = t.measure(|pid| {
                run_ok(
                    lab::tool("gcore").arg("-o").arg(&file).arg(pid.to_string()),
                    "gcore",
                )
            });
            wall.other_push(w);
            pause.other_push(p);
            let _ = std::fs::remove_file(file.with_extension(t.pid.to_string()));
        }
        lab::assert_untraced_and_running(t.pid);
    }
    let _ = std::fs::remove_dir_all(&dir);
    rows.extend([wall, pause]);
}

/// The inspector on 1,000 threads: `s` pressed -> the first frame showing STOPPED (raw: the
/// raw loop's whole attach, stop and detach, as the floor).
fn inspector_stop(plan: &Plan, rows: &mut Vec<Row>) {
    let lab = lab::start(1000);
    let mut row = Row::new(
        "7. inspector, 1000 threads: `s` -> frame showing STOPPED",
        Kind::Time,
        "",
        Goal::None,
    );
    row.gdb = Err("n/a".into());
    let u = ui::Ui::start(
        lab.pid,
        Options {
            stop_on_thread_events: false,
            ..Options::default()
        },
    );
    for _ in 0..plan.reps {
        u.key('c');
        u.await_state("RUNNING");
        u.skip_frames();
        let t0 = Instant::now();
        u.key('s');
        row.pts.push((u.await_state("STOPPED") - t0).as_secs_f64());
    }
    u.finish();
    lab::assert_untraced_and_running(lab.pid);
    for _ in 0..plan.reps {
        let t0 = Instant::now();
        raw::dump(lab.pid);
        row.raw.push(t0.elapsed().as_secs_f64());
    }
    rows.push(row);
}
