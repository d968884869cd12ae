fn main() -> std::process::ExitCode {
    nhsmal::cli::run()
}
