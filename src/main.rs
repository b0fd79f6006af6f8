use std::process::ExitCode;

fn main() -> ExitCode {
    regimen::cli::main()
}
