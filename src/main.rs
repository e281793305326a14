use clap::Parser;
use color_eyre::config::{HookBuilder, Theme};
use color_eyre::eyre::Report;
use ptscope::cli::{Cli, Cmd};
use ptscope::tracer::TraceError;
use ptscope::ui::session::{self, SessionError, Settings, Target};
use std::io::IsTerminal;

/// color-eyre reports what ptscope did not expect: a panic (after the inspector has given the
/// terminal back) or a failure of its own machinery, with its causes and how to get a
/// backtrace. Colours only when stderr is a terminal.
fn install_reports(colour: bool) {
    let theme = if colour { Theme::dark() } else { Theme::new() };
    // The location would always be this file, where the error is wrapped: left out. A second
    // install is the only way this fails.
    let _ = HookBuilder::new()
        .theme(theme)
        .display_location_section(false)
        .install();
}

/// What a user can act on (a wrong pid, a process that may not be traced or is traced
/// already, a program that will not start, one that exited) is one line, as the README
/// promises; anything else is ptscope failing, and gets the full report. Both exit 1.
fn failure(e: TraceError, doing: impl FnOnce() -> String) -> String {
    if e.is_expected() {
        format!("ptscope: {e}")
    } else {
        // The report starts on a line of its own: "ptscope:", then the numbered causes.
        format!("ptscope:{:?}", Report::new(e).wrap_err(doing()))
    }
}

/// The inspector: errors before and after the screen are reported like the dump's (one line
/// for what the user can act on, the full report otherwise), exit 1.
fn inspect(target: Target, stop_on_thread_events: bool) -> i32 {
    let settings = Settings {
        stop_on_thread_events,
    };
    let res = session::start(target, &settings).and_then(|(h, m)| session::run(h, m));
    match res {
        Ok(()) => 0,
        Err(SessionError::Trace(e)) => {
            eprintln!("{}", failure(e, || "the inspector".to_string()));
            1
        }
        Err(SessionError::Setup(text)) => {
            eprintln!("ptscope: {text}");
            1
        }
    }
}

fn main() {
    let cli = Cli::parse();
    // Before any thread starts, so that all of ours inherit it; not for a demo program, which
    // is a target and should look like any program. It only fails for a bad argument: the
    // SIGCHLD handler still wakes the tracer if it ever did.
    if !matches!(cli.command, Some(Cmd::Program { .. })) {
        let _ = ptscope::tracer::keep_child_signals_for_tracers();
    }
    install_reports(std::io::stderr().is_terminal());
    let code = match cli.command {
        Some(Cmd::Dump {
            pid,
            json,
            no_backtrace,
            all,
            no_analysis,
            cpus,
            no_cache,
        }) => match ptscope::dump::run(
            pid,
            &ptscope::dump::Request {
                json,
                backtraces: !no_backtrace,
                all,
                analysis: !no_analysis,
                cpus: cpus.map_or_else(ptscope::dump::Cpus::default_budget, usize::from),
                remember: !no_cache,
            },
        ) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("{}", failure(e, || format!("dump of process {pid}")));
                1
            }
        },
        Some(Cmd::Core {
            pid,
            output,
            stream,
        }) => ptscope::coredump::run(pid, output.as_deref(), stream),
        Some(Cmd::Trace {
            pid,
            locations,
            seconds,
            json,
        }) => ptscope::trace::run(&ptscope::trace::Request {
            pid,
            locations,
            seconds,
            json,
        }),
        Some(Cmd::Hold { pid, addr, watch }) => ptscope::demo::hold::run(pid, addr, watch),
        Some(Cmd::Program { name, args }) => ptscope::demo::run(&name, &args),
        Some(Cmd::Demo {
            stop_on_thread_events,
        }) => inspect(Target::Demo, stop_on_thread_events),
        None => match (cli.pid, cli.program.split_first()) {
            (Some(pid), _) => inspect(Target::Attach(pid), cli.stop_on_thread_events),
            (None, Some((program, args))) => {
                let target = Target::Launch {
                    program: program.clone(),
                    args: args.to_vec(),
                };
                inspect(target, cli.stop_on_thread_events)
            }
            (None, None) => {
                eprintln!("ptscope: nothing to do: try `ptscope demo` or `ptscope --help`");
                2
            }
        },
    };
    std::process::exit(code);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_errors_are_one_line_and_the_rest_a_report() {
        install_reports(false);
        let doing = || "dump of process 5".to_string();
        assert_eq!(
            failure(TraceError::NoSuchProcess(5), doing),
            "ptscope: no such process: 5"
        );
        let traced = TraceError::AlreadyTraced {
            pid: 5,
            tracer: 6,
            tracer_name: "gdb".into(),
        };
        assert_eq!(
            failure(traced, doing),
            "ptscope: process 5 is already traced by PID 6 (gdb)"
        );
        let report = failure(TraceError::Timeout("reply"), doing);
        assert!(report.starts_with("ptscope:\n"), "{report}");
        // color-eyre numbers the chain of causes, outermost first.
        let dump = report.find("0: dump of process 5").expect(&report);
        let cause = report
            .find("1: timed out waiting for reply")
            .expect(&report);
        assert!(dump < cause, "{report}");
        assert!(
            !report.contains('\x1b'),
            "no colours off a terminal: {report:?}"
        );
    }
}
