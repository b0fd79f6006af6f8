//! The `regimen` command: flag parsing and printing over the library's API.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
