/// mimalloc: the engine allocates many small values per response (JSON nodes, template values);
/// measured on the batch benchmark it takes a sizeable share of CPU off the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    recipe::main()
}
