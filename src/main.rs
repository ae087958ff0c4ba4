/// mimalloc instead of the system allocator: the relay allocates and frees many
/// small buffers per request on two or more threads, and frees some on threads
/// other than the ones that allocated them (the state writer, the log writer),
/// which glibc's arenas serialise (docs/benchmarks.md, "Profile").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    airelays::cli::main()
}
