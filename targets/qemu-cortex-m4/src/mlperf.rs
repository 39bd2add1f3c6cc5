// The body of the MLPerf Tiny programs `src/bin/mlperf_*.rs`, each of which defines
// `Model` (the network's type, borrowed from its weight file), `WEIGHTS` and `INPUTS` (the
// bundle's files) before including this file. See `firmnet_demo::mlperf` for the lines it
// prints; `cargo run --release --example mlperf_tiny` reads them.

use cortex_m_rt::entry;
use firmnet_demo::mlperf;

board::handlers!();

#[entry]
fn main() -> ! {
    // Input, output and arena, handed out once as a `&'static mut` (.bss).
    static mut BUFFERS: mlperf::Buffers<Model> = mlperf::Buffers::ZERO;
    board::trap_unaligned();
    let net: Model = match firmnet::format::view(WEIGHTS) {
        Ok(net) => net,
        Err(e) => board::fail_with(&e),
    };
    let mut stack = 0;
    let count = mlperf::run(&net, INPUTS, BUFFERS, |i, output| {
        if i == 0 {
            // Inference alone, before the first line is printed.
            stack = board::stack_high_water().0;
        }
        mlperf::report(&mut board::write, i, output);
    });
    mlperf::field(&mut board::write, b"inferences", count);
    mlperf::field(&mut board::write, b"stack", stack);
    board::write(b"done\n");
    board::success()
}
