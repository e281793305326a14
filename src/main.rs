fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("__target")
        && args.get(2).map(String::as_str) == Some("chain")
    {
        ptscope::target::chain::run(&args[3..]);
    }
}
