use clap::Parser;
use ptscope::cli::{Cli, Cmd};
use ptscope::ui::session::{self, Settings, Target};

/// The inspector: errors before and after the screen are one line on stderr, exit 1.
fn inspect(target: Target, stop_on_thread_events: bool) -> i32 {
    let settings = Settings {
        stop_on_thread_events,
    };
    let res = session::start(target, &settings).and_then(|(h, m)| session::run(h, m));
    match res {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("ptscope: {e}");
            1
        }
    }
}

fn main() {
    let cli = Cli::parse();
    let code = match cli.command {
        Some(Cmd::Dump {
            pid,
            json,
            no_backtrace,
        }) => match ptscope::dump::run(pid, json, !no_backtrace) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("ptscope: {e}");
                1
            }
        },
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
