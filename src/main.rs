use clap::Parser;
use ptscope::cli::{Cli, Cmd};

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
        Some(Cmd::Hold { pid, addr }) => ptscope::target::hold::run(pid, addr),
        Some(Cmd::Target { name, args }) => ptscope::target::run(&name, &args),
        None => {
            eprintln!("ptscope: nothing to do (try `ptscope --help`)");
            2
        }
    };
    std::process::exit(code);
}
