//! The real binary in a pseudo-terminal, read back as a person sees it (vt100 screen), on the
//! bundled demo: launched (`ptscope demo`) and attached (`ptscope PID`).

mod common;
mod hung_support;
mod symbols_support;

use common::pty::Ui;
use common::{assert_untraced_and_running, bin, task_ids};
use std::time::Duration;

/// Rows of the threads table: (tid, rest of the row).
fn thread_rows(text: &str) -> Vec<(i32, String)> {
    text.lines()
        .filter_map(|l| {
            let inner = l.strip_prefix('│')?;
            let rest: String = inner.chars().skip(2).collect();
            let mut it = rest.split_whitespace();
            let tid: i32 = it.next()?.parse().ok()?;
            Some((tid, inner.to_string()))
        })
        .collect()
}

/// A register's value from the two-column Registers pane: the name, then a 0x value.
fn register(text: &str, name: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let words: Vec<&str> = l
            .split(|c: char| c == '│' || c.is_whitespace())
            .filter(|w| !w.is_empty())
            .collect();
        words.windows(2).find_map(|w| {
            (w[0] == name)
                .then(|| w[1].strip_prefix("0x"))
                .flatten()
                .and_then(|v| u64::from_str_radix(v, 16).ok())
        })
    })
}

fn hex_after(text: &str, marker: &str) -> Option<u64> {
    let i = text.find(marker)? + marker.len();
    let hex: String = text[i..]
        .chars()
        .take_while(|c| c.is_ascii_hexdigit())
        .collect();
    u64::from_str_radix(&hex, 16).ok()
}

fn pid_of(text: &str) -> Option<i32> {
    let i = text.find(" pid ")? + 5;
    text[i..].split_whitespace().next()?.parse().ok()
}

#[test]
fn demo_stop_break_continue_step_quit() {
    let mut ui = Ui::start(&["demo"]);
    let pid = ui.wait("the demo running with its threads", |t| {
        let rows = thread_rows(t);
        (t.contains("RUNNING") && rows.len() >= 5)
            .then(|| pid_of(t))
            .flatten()
    });
    let hot = ui.wait("the hot function's address", |t| {
        hex_after(t, "ptscope_demo_hot (0x")
    });

    ui.keys("s");
    ui.wait("every thread stopped", |t| {
        let rows = thread_rows(t);
        let all = !rows.is_empty() && rows.iter().all(|(_, r)| !r.contains(" running "));
        (t.contains("STOPPED") && all).then_some(())
    });

    ui.keys("b");
    ui.wait("the breakpoint prompt", |t| {
        t.contains("breakpoint address:").then_some(())
    });
    ui.keys(&format!("{hot:#x}\r"));
    ui.wait("the breakpoint listed", |t| {
        t.contains(&format!("breakpoint set at {hot:#x}"))
            .then_some(())
    });

    ui.keys("c");
    let want = format!("breakpoint {hot:#x}");
    let (tid, rip) = ui.wait("a thread stopped at the breakpoint", |t| {
        // Several workers may have hit it; the one marked `>` stopped the process and is shown.
        let (tid, _) = thread_rows(t)
            .into_iter()
            .find(|(_, r)| r.starts_with('>') && r.contains(&want))?;
        let rip = register(t, "rip")?;
        // The stop's own picture, not only the hit's transition (which can be drawn first, the
        // registers still those of the last stop): its line in the event log.
        let pictured = t.contains(&format!("all threads stopped: thread {tid}"));
        (pictured && t.contains("STOPPED") && t.contains(&format!("Registers {tid}")))
            .then_some((tid, rip))
    });
    assert_eq!(
        rip, hot,
        "the thread that hit the breakpoint is selected, rip on the breakpoint"
    );

    ui.keys("n");
    let after = ui.wait("the step to finish", |t| {
        (t.contains(&format!("thread {tid} stepped")) && t.contains("STOPPED"))
            .then(|| register(t, "rip"))
            .flatten()
            // The registers arrive with the snapshot the step's reply asks for.
            .filter(|r| *r != rip)
    });
    assert_ne!(after, rip, "n moved rip of thread {tid}");
    assert!(
        after > hot && after < hot + 16,
        "one instruction into the function: {after:#x}"
    );

    ui.keys("q");
    assert_eq!(ui.wait_exit(), 0);
    // A launched demo is killed when ptscope quits.
    common::eventually("the launched demo to be gone", || task_ids(pid).is_empty());
}

#[test]
fn chain_target_shows_its_stack_and_what_the_kernel_says() {
    // Killed when dropped, at the end.
    let target = symbols_support::start_default();
    let (pid, chain, mutex) = (target.pid, target.chain_tid, target.mutex_tid);
    let mut ui = Ui::start(&[&pid.to_string()]);
    ui.wait("the attached process stopped", |t| {
        (t.contains("STOPPED") && t.contains("before the stop") && thread_rows(t).len() >= 3)
            .then_some(())
    });
    // The kernel's view from before the attach stopped everything: blocked in read and futex.
    let row = |t: &str, tid: i32| {
        thread_rows(t)
            .into_iter()
            .find(|(id, _)| *id == tid)
            .map(|(_, r)| r)
    };
    let text = ui.text();
    let chain_row = row(&text, chain).expect("chain thread listed");
    let mutex_row = row(&text, mutex).expect("mutex thread listed");
    assert!(
        chain_row.contains(" S ") && chain_row.contains("read("),
        "{text}"
    );
    assert!(mutex_row.contains("futex("), "{text}");
    assert!(
        !chain_row.contains(" t "),
        "our own stop is not the kernel view: {text}"
    );

    // Select the chain thread (threads are in tid order) and read its backtrace.
    let tids: Vec<i32> = thread_rows(&text).into_iter().map(|(t, _)| t).collect();
    let selected = text
        .find("Registers ")
        .and_then(|i| text[i + "Registers ".len()..].split_whitespace().next())
        .and_then(|w| w.parse::<i32>().ok())
        .expect("a selected thread");
    let from = tids
        .iter()
        .position(|t| *t == selected)
        .expect("selected listed");
    let to = tids.iter().position(|t| *t == chain).expect("chain listed");
    let (key, step): (&str, isize) = if to >= from { ("j", 1) } else { ("k", -1) };
    let mut at = from as isize;
    while at != to as isize {
        ui.keys(key);
        at += step;
        let want = format!("Registers {}", tids[at as usize]);
        ui.wait(&want, |t| t.contains(&want).then_some(()));
    }
    let frames = ui.wait("the chain thread's backtrace", |t| {
        if !t.contains(&format!("Backtrace {chain} (")) {
            return None;
        }
        let order: Vec<usize> = ["ptscope_chain_c", "ptscope_chain_b", "ptscope_chain_a"]
            .iter()
            .map(|f| t.find(f))
            .collect::<Option<Vec<usize>>>()?;
        Some(order)
    });
    assert!(
        frames[0] < frames[1] && frames[1] < frames[2],
        "c, b, a innermost first:\n{}",
        ui.text()
    );
    let text = ui.text();
    let frame_line = |f: &str| text.lines().find(|l| l.contains(f)).unwrap().to_string();
    assert!(frame_line("ptscope_chain_c").contains("#1"), "{text}");
    assert!(frame_line("ptscope_chain_b").contains("#2"), "{text}");
    assert!(frame_line("ptscope_chain_a").contains("#3"), "{text}");

    ui.keys("q");
    assert_eq!(ui.wait_exit(), 0);
    assert_untraced_and_running(pid);
}

/// The demo as a process of its own, for the UI to attach to (not launch); once its threads run.
fn start_demo_target() -> (std::process::Child, i32) {
    let target = std::process::Command::new(bin())
        .args(["__demo", "demo", "--seconds", "60"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start the demo");
    let pid = target.id() as i32;
    common::eventually("the demo's threads", || task_ids(pid).len() >= 5);
    (target, pid)
}

#[test]
fn attached_target_is_left_untraced_and_running() {
    let (mut target, pid) = start_demo_target();

    let mut ui = Ui::start(&[&pid.to_string()]);
    ui.wait("the attached process stopped", |t| {
        (t.contains("STOPPED") && t.contains("(attached)") && thread_rows(t).len() >= 5)
            .then_some(())
    });
    ui.keys("c");
    ui.wait("running again", |t| t.contains("RUNNING").then_some(()));
    ui.keys("s");
    ui.wait("stopped again", |t| t.contains("STOPPED").then_some(()));
    ui.keys("q");
    assert_eq!(ui.wait_exit(), 0);

    assert_untraced_and_running(pid);
    // It lives on with nothing left to die of: a worker running into an int3 of ours, a
    // signal held back. Proof that it ran: a thread born after ptscope left (the demo starts
    // two a second).
    let at_detach = task_ids(pid);
    common::eventually("a thread born in the demo after ptscope left", || {
        assert!(
            target.try_wait().unwrap().is_none(),
            "the demo died after ptscope left"
        );
        task_ids(pid).iter().any(|t| !at_detach.contains(t))
    });
    assert_untraced_and_running(pid);
    target.kill().unwrap();
    target.wait().unwrap();
}

#[test]
fn sigint_sigterm_sighup_quit_gracefully_and_detach() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        let (mut target, pid) = start_demo_target();
        let mut ui = Ui::start(&[&pid.to_string()]);
        ui.wait("the attached process stopped", |t| {
            t.contains("STOPPED").then_some(())
        });
        let ui_pid = ui.pid();
        // SAFETY: kill(2) on a pid we spawned and have not reaped.
        unsafe { libc::kill(ui_pid, sig) };
        assert_eq!(ui.wait_exit(), 0, "exit status after signal {sig}");
        assert_untraced_and_running(pid);
        target.kill().unwrap();
        target.wait().unwrap();
    }
}

#[test]
fn launched_program_starts_stopped_and_is_killed_on_quit() {
    let mut ui = Ui::start(&["--", bin(), "__demo", "demo", "--seconds", "60"]);
    let pid = ui.wait("the program stopped at its start", |t| {
        (t.contains("STOPPED") && t.contains("(launched)"))
            .then(|| pid_of(t))
            .flatten()
    });
    ui.keys("c");
    ui.wait("its threads running", |t| {
        (t.contains("RUNNING") && thread_rows(t).len() >= 5).then_some(())
    });
    ui.keys("q");
    assert_eq!(ui.wait_exit(), 0);
    common::eventually("the launched program to be gone", || {
        task_ids(pid).is_empty()
    });
}

/// A target that is killed however the test ends (a failed assertion included).
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        // Test targets are ours: kill them on purpose.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `ptscope __demo steps` as a process of its own: its pid once both threads run.
fn start_steps_target() -> (KillOnDrop, i32) {
    use std::io::BufRead;
    let mut target = std::process::Command::new(bin())
        .args(["__demo", "steps"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start the steps demo");
    let mut line = String::new();
    std::io::BufReader::new(target.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("READY line");
    let pid = target.id() as i32;
    (KillOnDrop(target), pid)
}

/// The line of src/demo/steps.rs that carries `// line: NAME`.
fn steps_line(name: &str) -> u32 {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/demo/steps.rs"))
        .expect("steps.rs");
    let tag = format!("// line: {name}");
    text.lines()
        .position(|l| l.trim_end().ends_with(&tag))
        .map(|i| i as u32 + 1)
        .expect("marker")
}

/// objdump -d -M intel's text of the one instruction at `elf_addr` of the ptscope binary.
fn objdump_insn(elf_addr: u64) -> String {
    let out = std::process::Command::new("objdump")
        .args([
            "-d",
            "-M",
            "intel",
            "--insn-width=16",
            &format!("--start-address={elf_addr:#x}"),
            &format!("--stop-address={:#x}", elf_addr + 16),
            bin(),
        ])
        .output()
        .expect("objdump (binutils) is installed");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{elf_addr:x}:")))
        .expect("objdump printed the instruction");
    let insn = line.rsplit('\t').next().unwrap_or("");
    let insn = insn.split(" #").next().unwrap_or(insn);
    insn.split(" <")
        .next()
        .unwrap_or(insn)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Where the ptscope binary's first byte is mapped in `pid` (a PIE: ELF address 0).
fn load_base(pid: i32) -> u64 {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).expect("maps");
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).expect("exe");
    let line = maps
        .lines()
        .find(|l| l.ends_with(&*exe.to_string_lossy()))
        .expect("the binary is mapped");
    u64::from_str_radix(line.split('-').next().unwrap(), 16).expect("hex")
}

#[test]
fn a_source_line_breakpoint_shows_its_instruction_and_its_line_and_l_steps_a_line() {
    let (_target, pid) = start_steps_target();
    let call = steps_line("call");
    let mut ui = Ui::start(&[&pid.to_string()]);
    ui.wait("the attached process stopped", |t| {
        (t.contains("STOPPED") && t.contains("(attached)")).then_some(())
    });
    ui.keys("b");
    ui.wait("the breakpoint prompt", |t| {
        t.contains("breakpoint address:").then_some(())
    });
    ui.keys(&format!("steps.rs:{call}\r"));
    let want = format!("breakpoint at steps.rs:{call} (0x");
    let addr = ui.wait("the line's breakpoint set", |t| hex_after(t, &want));
    ui.wait("listed as one breakpoint", |t| {
        t.contains(&format!("steps.rs:{call} {addr:#x}"))
            .then_some(())
    });

    ui.keys("c");
    let at = format!("=>{addr:#x} ");
    let text = ui.wait("the code and source at the breakpoint", |t| {
        (t.contains("STOPPED") && t.contains(&at) && t.contains(&format!("=>{call} ")))
            .then(|| t.to_string())
    });
    // The instruction at the pc, as objdump reads it from the binary.
    let code_line = text.lines().find(|l| l.contains(&at)).unwrap();
    let insn = objdump_insn(addr - load_base(pid));
    let mnemonic = insn.split(' ').next().unwrap();
    if insn.contains("rip+0xffff") {
        assert!(
            code_line.contains(&format!(" {mnemonic} ")),
            "{insn} in {code_line}"
        );
    } else {
        assert!(code_line.contains(&insn), "{insn} in {code_line}");
    }
    assert!(
        code_line.contains('●'),
        "the breakpoint is marked: {code_line}"
    );
    let source_line = text
        .lines()
        .find(|l| l.contains(&format!("=>{call} ")))
        .unwrap();
    assert!(
        source_line.contains("let b = ptscope_steps_effect(a, who);"),
        "{source_line}"
    );

    // One source line on, over the call; the breakpoint deleted first so no other thread's
    // hit cuts the step short.
    ui.keys("\t\t\t\t\t");
    ui.wait("the breakpoints pane focused", |t| {
        t.contains("Breakpoints (1)").then_some(())
    });
    ui.keys("d");
    ui.wait("the breakpoint deleted", |t| {
        t.contains("Breakpoints (0)").then_some(())
    });
    ui.keys("l");
    let after = steps_line("after");
    ui.wait("the next source line", |t| {
        (t.contains("line step done") && t.contains(&format!("=>{after} "))).then_some(())
    });

    ui.keys("q");
    assert_eq!(ui.wait_exit(), 0);
    assert_untraced_and_running(pid);
}

/// The analysis walks stacks and loads symbols on its worker: in a debug build on a busy
/// machine that takes seconds.
const ANALYSIS: Duration = Duration::from_secs(60);

/// `4101-4103, 4107`, as the grouped pane writes tid lists.
fn ranges(tids: &[i32]) -> String {
    let mut t = tids.to_vec();
    t.sort_unstable();
    let mut runs: Vec<(i32, i32)> = Vec::new();
    for x in t {
        match runs.last_mut() {
            Some((_, end)) if *end + 1 == x => *end = x,
            _ => runs.push((x, x)),
        }
    }
    runs.iter()
        .map(|&(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[test]
fn a_deadlock_is_announced_with_its_threads_and_g_groups_them() {
    let demo = hung_support::Demo::start("hung-cycle", &[]);
    let cycle = demo.tids("tids");
    let relock = demo.tid("relock");
    let mut all = cycle.clone();
    all.push(relock);
    demo.wait_blocked(&all, "futex");
    let pid = demo.pid;

    let mut ui = Ui::start(&[&pid.to_string()]);
    // Each waits for the mutex the next holds; the banner starts the cycle at its lowest tid.
    let (order, _) = hung_support::rotate_to_lowest(&cycle, &cycle);
    let path: Vec<String> = order.iter().map(i32::to_string).collect();
    let want = format!("DEADLOCK: {} -> {}", path.join(" -> "), path[0]);
    let own = format!("DEADLOCK: {relock} -> {relock} (mutex <ptscope_cycle_self>)");
    // The screen is read while frames arrive: a read can fall in the middle of one, so the
    // whole picture (banner, marked rows, the log's line) is waited for together.
    let log_line = format!("{} DEADLOCK: {}", path[0], path[0]);
    let text = ui.wait_within(
        "the deadlock banner, its threads and its log line",
        ANALYSIS,
        |t| {
            let lines: Vec<&str> = t.lines().collect();
            let banner = lines
                .iter()
                .take(2)
                .any(|l| l.trim_start().starts_with(&want));
            let own_banner = lines.iter().take(2).any(|l| l.contains(&own));
            let rows = thread_rows(t);
            let marked = all.iter().all(|tid| {
                rows.iter()
                    .any(|(t, r)| t == tid && (r.starts_with(" !") || r.starts_with(">!")))
            });
            let logged = lines.iter().any(|l| l.contains(&log_line));
            (banner && own_banner && marked && logged).then(|| t.to_string())
        },
    );
    assert!(
        text.contains("(mutex <ptscope_cycle_m"),
        "the locks are named by their symbols:\n{text}"
    );
    // The cycle's threads are marked, with what each waits on; the main thread is not.
    let rows = thread_rows(&text);
    for tid in &all {
        let (_, r) = rows.iter().find(|(t, _)| t == tid).expect("listed");
        assert!(
            r.starts_with(" !") || r.starts_with(">!"),
            "{tid} marked:\n{text}"
        );
        assert!(r.contains("mutex <ptscope_cycle_"), "{tid} waits:\n{text}");
    }
    let (_, main) = rows.iter().find(|(t, _)| *t == pid).expect("main listed");
    assert!(!main.starts_with(" !"), "{text}");
    assert!(main.contains("signal wait (pause)"), "{text}");
    // The event log says it too.
    assert!(
        text.lines()
            .any(|l| l.contains(&format!("{} DEADLOCK: {}", path[0], path[0]))),
        "logged:\n{text}"
    );

    // G: the three threads of the cycle share a stack.
    ui.keys("G");
    let group = format!("3 threads  {}  ", ranges(&cycle));
    ui.wait_within("the stack groups", ANALYSIS, |t| {
        t.lines()
            .find(|l| l.contains(&group))
            .filter(|l| l.contains("ptscope_cycle_take") && l.contains("3 in a deadlock"))
            .map(|_| ())
    });
    let text = ui.text();
    assert!(text.contains("in 3 stack groups"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains(&format!("1 thread   {relock}  "))
                && l.contains("ptscope_cycle_relock")),
        "{text}"
    );
    // Home goes to the largest group, Enter opens it to its threads.
    ui.keys("\x1b[H\r");
    ui.wait("the cycle's group open", |t| {
        let open = t
            .lines()
            .position(|l| l.contains("▾") && l.contains(&group))?;
        let below: Vec<&str> = t.lines().skip(open + 1).take(3).collect();
        cycle
            .iter()
            .all(|tid| below.iter().any(|l| l.contains(&format!("! {tid} cycle-"))))
            .then_some(())
    });

    ui.keys("q");
    assert_eq!(ui.wait_exit(), 0);
    assert_untraced_and_running(pid);
}

/// The row of `tid`, once there is one.
fn row_of(text: &str, tid: i32) -> Option<String> {
    thread_rows(text)
        .into_iter()
        .find(|(t, _)| *t == tid)
        .map(|(_, r)| r)
}

#[test]
fn the_first_screen_after_attaching_says_a_sleeper_sleeps() {
    // glibc's sleep(1) sleeps in clock_nanosleep.
    let mut sleeper = std::process::Command::new("sleep")
        .arg("600")
        .spawn()
        .expect("start sleep(1)");
    let pid = sleeper.id() as i32;
    let syscall = |pid: i32| {
        ptscope::procinfo::ProcReader::new()
            .thread(pid, pid)
            .ok()
            .and_then(|v| v.syscall.name())
    };
    common::eventually("sleep in clock_nanosleep", || {
        syscall(pid).as_deref() == Some("clock_nanosleep")
    });
    for round in ["never traced", "stopped by a tracer before"] {
        let mut ui = Ui::start(&[&pid.to_string()]);
        // The first screen that lists the thread, long before the analysis answers.
        let row = ui.wait("the sleeper listed", |t| {
            t.contains("STOPPED").then(|| row_of(t, pid)).flatten()
        });
        assert!(
            row.contains("clock_nanosleep(") && !row.contains("restart_syscall"),
            "{round}: {row}\n{}",
            ui.text()
        );
        ui.wait_within("what it waits on", ANALYSIS, |t| {
            row_of(t, pid)
                .filter(|r| r.contains("sleep (clock_nanosleep)"))
                .map(|_| ())
        });
        ui.keys("q");
        assert_eq!(ui.wait_exit(), 0);
        assert_untraced_and_running(pid);
        // Our stop interrupted the sleep: once it runs again the kernel shows it as
        // restart_syscall(), which is what the second round attaches to.
        common::eventually(
            "the interrupted clock_nanosleep restarted through restart_syscall",
            || syscall(pid).as_deref() == Some("restart_syscall"),
        );
    }
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
}
