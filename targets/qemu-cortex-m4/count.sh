#!/bin/sh
# Executed instructions of the int8 dense kernels on a Cortex-M4 (the DSP path), counted
# exactly by a QEMU plugin (QEMU models no cycles; instructions are exact and repeatable).
#
#   cd targets/qemu-cortex-m4 && ./count.sh
#
# Builds tools/insnwin.c (needs gcc), builds src/bin/count.rs, runs it under QEMU with the
# plugin counting each bench_start..bench_end window, subtracts the empty window (the
# markers' own cost) and prints instructions per multiply-accumulate for each layer of the
# Fashion-MNIST int8 MLP and for the whole network, and the instructions it takes to check
# the network's weight file at boot. Needs qemu-system-arm and llvm-nm.
set -eu
cd "$(dirname "$0")"
mkdir -p target
gcc -O2 -shared -fPIC -fvisibility=hidden -o target/libinsnwin.so tools/insnwin.c
cargo build --release --quiet --bin count
elf=target/thumbv7em-none-eabihf/release/count
nm=${NM:-llvm-nm}
start=$($nm "$elf" | awk '$3=="bench_start"{print "0x"$1}')
end=$($nm "$elf" | awk '$3=="bench_end"{print "0x"$1}')
timeout 120 qemu-system-arm -plugin "target/libinsnwin.so,start=$start,end=$end" \
    -machine mps2-an386 -cpu cortex-m4 -nographic -monitor none -serial none \
    -semihosting-config enable=on,target=native -kernel "$elf" > target/count.out 2> target/count.log
cat target/count.out
# The program prints the size of the weight file it checks: `file N bytes, …`.
file_bytes=$(awk '$1=="file" {print $2}' target/count.out)
awk -v file_bytes="$file_bytes" '
    /insnwin: window/ { w[$3] = $5 }
    END {
        split("784x256 256x128 128x10 whole", name, " ")
        split("200704 32768 1280 234752", macs, " ")
        printf "%-10s %10s %12s %10s\n", "layer", "MACs", "instructions", "per MAC"
        for (i = 1; i <= 4; i++) {
            n = w[i] - w[0]
            printf "%-10s %10d %12d %10.3f\n", name[i], macs[i], n, n / macs[i]
            printf "COUNT layer=%s macs=%d instructions=%d per_mac=%.3f\n", name[i], macs[i], n, n / macs[i] > "/dev/stderr"
        }
        n = w[5] - w[0]
        printf "%-10s %10s %12d %10.3f per byte of the %d-byte file\n", "check", "", n, n / file_bytes, file_bytes
        printf "COUNT check_file bytes=%d instructions=%d per_byte=%.3f\n", file_bytes, n, n / file_bytes > "/dev/stderr"
        printf "(marker overhead %d instructions, subtracted)\n", w[0]
    }' target/count.log
