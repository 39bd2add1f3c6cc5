#!/bin/sh
# Checks the cycle model of the counting plugin (tools/insnwin.c) against cycle counts worked
# out by hand from the Cortex-M4 Technical Reference Manual:
#
#   cd targets/qemu-cortex-m4 && ./cycles_check.sh
#
# Builds the plugin (needs gcc) and src/bin/cycles_check.rs, runs it under QEMU and compares,
# for each case the program prints (`case NAME insns=I cycles=C`), the plugin's window less
# the empty first window with I instructions and C cycles. Fails on any difference. count.sh
# runs it first. Needs qemu-system-arm and llvm-nm.
set -eu
cd "$(dirname "$0")"
mkdir -p target
gcc -O2 -shared -fPIC -fvisibility=hidden -o target/libinsnwin.so tools/insnwin.c
cargo build --release --quiet --bin cycles_check
elf=target/thumbv7em-none-eabihf/release/cycles_check
nm=${NM:-llvm-nm}
start=$($nm "$elf" | awk '$3=="bench_start"{print "0x"$1}')
end=$($nm "$elf" | awk '$3=="bench_end"{print "0x"$1}')
timeout 60 qemu-system-arm -plugin "target/libinsnwin.so,start=$start,end=$end" \
    -machine mps2-an386 -cpu cortex-m4 -nographic -monitor none -serial none \
    -semihosting-config enable=on,target=native -kernel "$elf" > target/cycles_check.out 2> target/cycles_check.log
# Case lines in window order; the name is every field between `case` and `insns=`.
awk '
    FNR == NR && $1 == "case" {
        n++; name[n] = $2; for (i = 3; i < NF - 1; i++) name[n] = name[n] " " $i
        sub("insns=", "", $(NF - 1)); sub("cycles=", "", $NF)
        insns[n] = $(NF - 1); cycles[n] = $NF; next
    }
    /^insnwin: window/ { wi[$3 + 1] = $5 }
    /^cycles: window/ { wc[$3 + 1] = $5 }
    END {
        if (n == 0 || !(1 in wi) || !(1 in wc)) { print "cycles_check: no cases or no windows"; exit 1 }
        printf "%-34s %12s %12s\n", "case (plugin / by hand)", "instructions", "cycles"
        bad = 0
        for (i = 1; i <= n; i++) {
            if (!(i in wi) || !(i in wc)) { printf "%s: no window\n", name[i]; bad = 1; continue }
            gi = wi[i] - wi[1]; gc = wc[i] - wc[1]
            ok = gi == insns[i] && gc == cycles[i]
            if (!ok) bad = 1
            printf "%-34s %5d / %-5d %5d / %-5d %s\n", name[i], gi, insns[i], gc, cycles[i], ok ? "ok" : "DIFFERS"
        }
        printf "(markers: %d instructions, %d cycles, subtracted)\n", wi[1], wc[1]
        exit bad
    }' target/cycles_check.out target/cycles_check.log || {
    echo "cycles_check: the plugin's cycle model differs from the hand-computed counts" >&2
    exit 1
}
