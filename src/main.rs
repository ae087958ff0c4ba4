fn main() -> std::process::ExitCode {
    airelays::cli::main()
}
