use std::process::ExitCode;

fn main() -> ExitCode {
    sesame_server::cli::main()
}
