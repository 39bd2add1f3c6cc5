// The body of the MLPerf Tiny programs `src/bin/mlperf_*.rs`, each of which defines
// `Model` (the network's type, borrowed from its weight file), `WEIGHTS` and `INPUTS` (the
// bundle's files) before including this file. See `firmnet_demo::mlperf` for the lines it
// prints; `cargo run --release --example mlperf_tiny` reads them.

use firmnet_demo::mlperf;
use riscv_rt::entry;
use riscv_semihosting::{debug, hprintln};
use rt::write;

#[entry]
fn main() -> ! {
    // Input, output and arena, handed out once as a `&'static mut` (.bss).
    let buffers = riscv::singleton!(: mlperf::Buffers<Model> = mlperf::Buffers::ZERO)
        .expect("main runs once");
    let painted_from = rt::paint_stack();
    let net: Model = match firmnet::format::view(WEIGHTS) {
        Ok(net) => net,
        Err(e) => {
            hprintln!("error: {}", e);
            rt::exit(debug::EXIT_FAILURE)
        }
    };
    let mut stack = 0;
    let count = mlperf::run(&net, INPUTS, buffers, |i, output| {
        if i == 0 {
            // Inference alone, before the first line is printed.
            stack = rt::stack_high_water(painted_from);
        }
        mlperf::report(&mut write, i, output);
    });
    mlperf::field(&mut write, b"inferences", count);
    mlperf::field(&mut write, b"stack", stack);
    write(b"done\n");
    rt::exit(debug::EXIT_SUCCESS)
}
