// The reference for start-up figures: a minimal Rust program that prints a line. Build it with
// the release profile's settings: rustc -C opt-level=3 -C codegen-units=1 -C strip=debuginfo -o /tmp/minimal benches/startup/minimal.rs
fn main() {
    println!("minimal");
}
