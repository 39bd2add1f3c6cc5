#!/bin/sh
# Executed instructions of the int8 dense kernels on a Cortex-M4 (the DSP path), counted
# exactly by a QEMU plugin (QEMU models no cycles; instructions are exact and repeatable),
# and the cycles the plugin estimates for them from the Cortex-M4 TRM's timings (the model
# and what it ignores, flash wait states and bus contention first, are in tools/insnwin.c).
#
#   cd targets/qemu-cortex-m4 && ./count.sh
#
# First runs cycles_check.sh, which fails if the plugin's cycle model disagrees with cycle
# counts worked out by hand. Builds tools/insnwin.c (needs gcc), builds src/bin/count.rs,
# runs it under QEMU with the plugin counting each bench_start..bench_end window, subtracts
# the empty window (the markers' own cost) and prints instructions and estimated cycles per
# multiply-accumulate for each layer of the Fashion-MNIST int8 MLP and for the whole
# network, and what it takes to check the network's weight file at boot. Needs
# qemu-system-arm and llvm-nm.
#
# Then the same for src/bin/count_cnn.rs: the int8 convolutional layers of
# targets/common/src/cnn_kernels.rs, with instructions per MAC for the convolutions, per
# input element for the pools and per output for the add, beside CMSIS-NN 19.1's counts
# (arm-none-eabi-gcc 12.2 -O3, counted the same way; `-` where not counted). The rows
# dw48x8, dw24x32s2 and dw6x128 are depthwise layers of visual wake words; vww_conv0,
# pw8x16 and pw16x32 its first and two pointwise convolutions, ic_conv0 image
# classification's first. That program checks every layer's output against the host's
# checksum and fails if one differs; so does this script, and so it does if one of these
# rows exceeds its bound below.
#
# Last src/bin/count_f32.rs: the f32 dense products of targets/common/src/f32_kernels.rs
# (the forward product one sample and a batch at a time, the input and weight gradients),
# which the Cortex-M4F runs on its FPU with the host reference's bits, in instructions per
# MAC. That program checks every output against the host's checksum; this script fails if
# one differs or if a row exceeds its bound below.
set -eu
cd "$(dirname "$0")"
./cycles_check.sh
mkdir -p target
gcc -O2 -shared -fPIC -fvisibility=hidden -o target/libinsnwin.so tools/insnwin.c
cargo build --release --quiet --bin count --bin count_cnn --bin count_f32
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
    /^cycles: window/ { cy[$3] = $5 }
    END {
        split("784x256 256x128 128x10 whole", name, " ")
        split("200704 32768 1280 234752", macs, " ")
        printf "%-10s %10s %12s %10s %12s %10s\n", "layer", "MACs", "instructions", "per MAC", "est. cycles", "per MAC"
        for (i = 1; i <= 4; i++) {
            n = w[i] - w[0]; c = cy[i] - cy[0]
            printf "%-10s %10d %12d %10.3f %12d %10.3f\n", name[i], macs[i], n, n / macs[i], c, c / macs[i]
            printf "COUNT layer=%s macs=%d instructions=%d per_mac=%.3f cycles=%d cycles_per=%.3f\n", name[i], macs[i], n, n / macs[i], c, c / macs[i] > "/dev/stderr"
        }
        n = w[5] - w[0]; c = cy[5] - cy[0]
        printf "%-10s %10s %12d %10.3f %12d %10.3f per byte of the %d-byte file\n", "check", "", n, n / file_bytes, c, c / file_bytes, file_bytes
        printf "COUNT check_file bytes=%d instructions=%d per_byte=%.3f cycles=%d cycles_per=%.3f\n", file_bytes, n, n / file_bytes, c, c / file_bytes > "/dev/stderr"
        printf "(marker overhead %d instructions, %d cycles, subtracted)\n", w[0], cy[0]
    }' target/count.log

# The convolutional layers.
elf=target/thumbv7em-none-eabihf/release/count_cnn
start=$($nm "$elf" | awk '$3=="bench_start"{print "0x"$1}')
end=$($nm "$elf" | awk '$3=="bench_end"{print "0x"$1}')
status=0
timeout 120 qemu-system-arm -plugin "target/libinsnwin.so,start=$start,end=$end" \
    -machine mps2-an386 -cpu cortex-m4 -nographic -monitor none -serial none \
    -semihosting-config enable=on,target=native -kernel "$elf" > target/count_cnn.out 2> target/count_cnn.log || status=$?
cat target/count_cnn.out
# `cnn NAME WORK CHECKSUM ok|differs` per layer, in window order (window 0 is empty).
awk '
    FNR == NR && $1 == "cnn" { n++; name[n] = $2; work[n] = $3; check[n] = $5; next }
    /insnwin: window/ { w[$3] = $5 }
    /^cycles: window/ { cy[$3] = $5 }
    END {
        split("2.18 2.09 11.2 3.63 8.33 11.2 6.4 81.7 - - - - - - -", cmsis, " ")
        split("MAC MAC MAC MAC MAC input input output MAC MAC MAC MAC MAC MAC MAC", unit, " ")
        printf "%-10s %8s %12s %10s %8s %12s %10s %8s\n", "layer", "work", "instructions", "per unit", "CMSIS-NN", "est. cycles", "per unit", "output"
        for (i = 1; i <= n; i++) {
            c = w[i] - w[0]; k = cy[i] - cy[0]
            printf "%-10s %8d %12d %10.3f %8s %12d %10.3f %8s  (per %s)\n", name[i], work[i], c, c / work[i], cmsis[i], k, k / work[i], check[i], unit[i]
            printf "COUNT cnn=%s work=%d instructions=%d per_unit=%.3f output=%s cycles=%d cycles_per=%.3f\n", name[i], work[i], c, c / work[i], check[i], k, k / work[i] > "/dev/stderr"
            printf "COUNT cnn=%s work=%d instructions=%d per_unit=%.3f output=%s cycles=%d cycles_per=%.3f\n", name[i], work[i], c, c / work[i], check[i], k, k / work[i] > "target/count_cnn.counts"
        }
    }' target/count_cnn.out target/count_cnn.log
if [ "$status" -ne 0 ]; then
    echo "count_cnn: exit status $status (an output differs from the host's, or the program failed)" >&2
    exit 1
fi
# The depthwise 3×3 rows and the convolutions of visual wake words and image
# classification: the measured instructions per MAC with about 3 % slack.
for limit in depthwise=3.31 dw48x8=3.18 dw24x32s2=3.83 dw6x128=3.17 \
    vww_conv0=3.80 pw8x16=3.52 pw16x32=2.23 ic_conv0=2.85; do
    name=${limit%%=*}
    bound=${limit#*=}
    got=$(sed -n "s/^COUNT cnn=$name .*per_unit=\([0-9.]*\).*/\1/p" target/count_cnn.counts)
    awk -v p="$got" -v b="$bound" 'BEGIN { exit !(p > 0 && p <= b) }' || {
        echo "$name: $got instructions per MAC, above $bound" >&2
        exit 1
    }
done

# The f32 dense products.
elf=target/thumbv7em-none-eabihf/release/count_f32
start=$($nm "$elf" | awk '$3=="bench_start"{print "0x"$1}')
end=$($nm "$elf" | awk '$3=="bench_end"{print "0x"$1}')
status=0
timeout 120 qemu-system-arm -plugin "target/libinsnwin.so,start=$start,end=$end" \
    -machine mps2-an386 -cpu cortex-m4 -nographic -monitor none -serial none \
    -semihosting-config enable=on,target=native -kernel "$elf" > target/count_f32.out 2> target/count_f32.log || status=$?
cat target/count_f32.out
# `f32 NAME MACS CHECKSUM ok|differs` per product, in window order (window 0 is empty).
awk '
    FNR == NR && $1 == "f32" { n++; name[n] = $2; work[n] = $3; check[n] = $5; next }
    /insnwin: window/ { w[$3] = $5 }
    /^cycles: window/ { cy[$3] = $5 }
    END {
        printf "%-14s %8s %12s %10s %12s %10s %8s\n", "product", "MACs", "instructions", "per MAC", "est. cycles", "per MAC", "output"
        for (i = 1; i <= n; i++) {
            c = w[i] - w[0]; k = cy[i] - cy[0]
            printf "%-14s %8d %12d %10.3f %12d %10.3f %8s\n", name[i], work[i], c, c / work[i], k, k / work[i], check[i]
            printf "COUNT f32=%s macs=%d instructions=%d per_mac=%.3f output=%s cycles=%d cycles_per=%.3f\n", name[i], work[i], c, c / work[i], check[i], k, k / work[i] > "/dev/stderr"
            printf "COUNT f32=%s macs=%d instructions=%d per_mac=%.3f output=%s cycles=%d cycles_per=%.3f\n", name[i], work[i], c, c / work[i], check[i], k, k / work[i] > "target/count_f32.counts"
        }
    }' target/count_f32.out target/count_f32.log
if [ "$status" -ne 0 ]; then
    echo "count_f32: exit status $status (an output differs from the host's, or the program failed)" >&2
    exit 1
fi
# The measured instructions per MAC with about 3 % slack.
for limit in f32_784x256=1.49 f32_64x64=1.57 f32_64x64x8=1.57 f32_dx64x64x8=1.85 f32_dw64x64x8=2.24; do
    name=${limit%%=*}
    bound=${limit#*=}
    got=$(sed -n "s/^COUNT f32=$name .*per_mac=\([0-9.]*\).*/\1/p" target/count_f32.counts)
    awk -v p="$got" -v b="$bound" 'BEGIN { exit !(p > 0 && p <= b) }' || {
        echo "$name: $got instructions per MAC, above $bound" >&2
        exit 1
    }
done
