//! The cycle model of the counting plugin (`tools/insnwin.c`) checked against cycle counts
//! worked out by hand from the Cortex-M4 Technical Reference Manual (ARM DDI 0439B), for
//! `cycles_check.sh`.
//!
//! Each case is an `asm!` block that calls `bench_start`, runs a short instruction
//! sequence and calls `bench_end`, so the compiler adds nothing inside the window; the
//! first case is empty and measures the markers themselves, which the script subtracts.
//! The program prints `case NAME insns=I cycles=C` per case, with the instructions and the
//! cycles the TRM gives the sequence (P = 2, the refill after a taken branch, as in the
//! plugin); the script fails unless the plugin's windows equal them exactly.

#![no_std]
#![no_main]

use core::arch::asm;

use cortex_m_rt::entry;
use cortex_m_semihosting::hprintln;
use firmnet_demo::bench::{bench_end, bench_start};

board::handlers!();

/// Runs the instructions (after the setup, outside the window) between the two markers,
/// with `r4` pointing at `buf`, and prints the expected counts.
macro_rules! case {
    ($buf:expr, $name:literal, insns = $insns:literal, cycles = $cycles:literal,
     setup: [$($setup:literal),*], body: [$($body:literal),*]) => {{
        // SAFETY: the sequence reads and writes only `buf` (through r4, within its
        // 8 words), the registers declared clobbered, and the flags; the markers, which
        // follow the C ABI, change no other register.
        unsafe {
            asm!(
                $($setup,)*
                "bl {start}",
                $($body,)*
                "bl {end}",
                start = sym bench_start,
                end = sym bench_end,
                in("r4") $buf,
                // The caller-saved registers one by one: `clobber_abi("C")` would also
                // name d16-d31, which this FPU does not have.
                out("r0") _,
                out("r1") _,
                out("r2") _,
                out("r3") _,
                out("r5") _,
                out("r12") _,
                out("lr") _,
                out("s0") _,
                out("s1") _,
                out("s2") _,
                out("s3") _,
                out("s4") _,
                out("s5") _,
                out("s6") _,
                out("s7") _,
                out("s8") _,
                out("s9") _,
                out("s10") _,
                out("s11") _,
                out("s12") _,
                out("s13") _,
                out("s14") _,
                out("s15") _,
            );
        }
        hprintln!("case {} insns={} cycles={}", $name, $insns, $cycles);
    }};
}

#[entry]
fn main() -> ! {
    static mut BUF: [u32; 8] = [0; 8];
    let buf: &mut [u32; 8] = BUF;
    let p = buf.as_mut_ptr();
    // Word 4 holds the buffer's own address, for a load whose result is the next base.
    buf[4] = p as u32;
    buf[0] = 0x3f80_0000; // 1.0f32, for VLDR

    case!(p, "empty", insns = 0, cycles = 0, setup: [], body: []);
    // Neighbouring single loads pipeline: the first takes 2 cycles, each next one 1
    // (TRM 3.3.2: "LDR R0,[R1,R5]; LDR R1,[R2]; LDR R2,[R3,#4] - normally four cycles").
    case!(p, "ldr x4", insns = 4, cycles = 5, setup: [],
        body: ["ldr r0, [r4]", "ldr r1, [r4, #4]", "ldr r2, [r4, #8]", "ldr r3, [r4, #12]"]);
    // A load whose destination is the next load's base does not pipeline: 2 + 2.
    case!(p, "ldr dependent", insns = 2, cycles = 4, setup: [],
        body: ["ldr r0, [r4, #16]", "ldr r1, [r0]"]);
    // A store of what a load just read pipelines (TRM: "LDR R0,[R1,R2]; STR R0,[R3,#20] -
    // normally three cycles total").
    case!(p, "ldr str", insns = 2, cycles = 3, setup: [],
        body: ["ldr r0, [r4]", "str r0, [r4, #20]"]);
    // Nothing pipelines after a store with a register offset: 2 + 2.
    case!(p, "str reg ldr", insns = 2, cycles = 4, setup: ["movs r5, #24"],
        body: ["str r0, [r4, r5]", "ldr r1, [r4]"]);
    // LDRD: 3 (TRM: "this operation requires three cycles"), not pipelined with the LDR
    // after it: 3 + 2.
    case!(p, "ldrd ldr", insns = 2, cycles = 5, setup: [],
        body: ["ldrd r0, r1, [r4]", "ldr r2, [r4, #8]"]);
    // LDM of 4 registers: 1 + N = 5.
    case!(p, "ldm x4", insns = 1, cycles = 5, setup: [], body: ["ldm r4, {{r0, r1, r2, r3}}"]);
    // PUSH and POP of 4 registers: 5 + 5.
    case!(p, "push pop x4", insns = 2, cycles = 10, setup: [],
        body: ["push {{r0, r1, r2, r3}}", "pop {{r0, r1, r2, r3}}"]);
    // A countdown loop of 4: MOVS 1, then 4 × SUBS 1, 3 taken BNE 1 + P, the last BNE 1.
    case!(p, "loop x4", insns = 9, cycles = 15, setup: [],
        body: ["movs r0, #4", "2:", "subs r0, #1", "bne 2b"]);
    // A conditional branch not taken costs 1: CMP, BNE, NOP.
    case!(p, "branch not taken", insns = 3, cycles = 3, setup: [],
        body: ["cmp r0, r0", "bne 2f", "nop", "2:"]);
    // BL 1 + P, BX LR 1 + P, B forward 1 + P.
    case!(p, "call return", insns = 3, cycles = 9, setup: [],
        body: ["bl 2f", "b 3f", "2:", "bx lr", "3:"]);
    // Single-cycle MACs: 4 × SMLAD, 2 × SMLAL, SMULL, MLA.
    case!(p, "smlad x4 smlal smull mla", insns = 8, cycles = 8,
        setup: ["movs r0, #0", "movs r1, #3", "movs r2, #5", "movs r3, #0"],
        body: ["smlad r0, r1, r2, r0", "smlad r0, r1, r2, r0", "smlad r0, r1, r2, r0",
               "smlad r0, r1, r2, r0", "smlal r0, r3, r1, r2", "smlal r0, r3, r1, r2",
               "smull r0, r3, r1, r2", "mla r0, r1, r2, r0"]);
    // SDIV: the TRM's bound, 12.
    case!(p, "sdiv", insns = 1, cycles = 12, setup: ["movs r1, #100", "movs r2, #7"],
        body: ["sdiv r0, r1, r2"]);
    // A chain of 4 VMLA.F32: 3 each.
    case!(p, "vmla x4", insns = 4, cycles = 12, setup: ["vmov s1, r4", "vmov s2, r4"],
        body: ["vmla.f32 s0, s1, s2", "vmla.f32 s0, s1, s2", "vmla.f32 s0, s1, s2",
               "vmla.f32 s0, s1, s2"]);
    // VLDR 2, VADD 1, VMUL 1, VMOV to a core register 1, VDIV 14, VSQRT 14.
    case!(p, "vldr vadd vmul vmov vdiv vsqrt", insns = 6, cycles = 33, setup: [],
        body: ["vldr s0, [r4]", "vadd.f32 s1, s0, s0", "vmul.f32 s2, s1, s0", "vmov r0, s2",
               "vdiv.f32 s3, s2, s1", "vsqrt.f32 s4, s3"]);
    // VPUSH and VPOP of 4 single registers: 5 + 5.
    case!(p, "vpush vpop x4", insns = 2, cycles = 10, setup: [],
        body: ["vpush {{s0, s1, s2, s3}}", "vpop {{s0, s1, s2, s3}}"]);
    // IT 1, CMP 1, and the instruction the block skips 1.
    case!(p, "it skipped", insns = 3, cycles = 3, setup: [],
        body: ["cmp r0, r0", "it ne", "movne r1, r2"]);
    hprintln!("cases done");
    board::success()
}
