//! The `frocket` command line. Wiring only: parse arguments and configuration, run the
//! command, print its output or a one-line error.

use clap::Parser;

fn main() {
    frocket_engine::memory::keep_freed_memory();
    let cli = frocket_cli::Cli::parse();
    match frocket_cli::run(cli) {
        Ok(()) => {}
        Err(e) => {
            let msg = format!("{e:#}").replace('\n', " ");
            eprintln!("error: {msg}");
            std::process::exit(1);
        }
    }
}
