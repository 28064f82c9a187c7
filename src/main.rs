//! The `digestif` binary: a thin shell over [`digestif::cli`].

fn main() -> std::process::ExitCode {
    digestif::cli::main()
}
