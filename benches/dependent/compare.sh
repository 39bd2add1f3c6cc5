#!/bin/sh
# What a crate that depends on firmnet gets, against the same code built for this CPU:
# benches/dependent.rs built twice — with no RUSTFLAGS at all (as any dependent builds it)
# and with RUSTFLAGS="-C target-cpu=native" — each in its own target directory, then run
# alternately for ROUNDS rounds (default 3). Prints, per benchmark, the lowest median of
# each build over the rounds (the least disturbed by other load on the machine) and the
# speed ratio dependent/native.
#
#   benches/dependent/compare.sh [criterion options]
#   ROUNDS=1 benches/dependent/compare.sh --warm-up-time 1 --measurement-time 2
set -eu
cd "$(dirname "$0")"
rounds=${ROUNDS:-3}
out=target/compare
rm -rf "$out"
mkdir -p "$out"

bench() {
    label=$1
    flags=$2
    shift 2
    # An empty RUSTFLAGS also overrides any `build.rustflags` of a parent .cargo/config.toml.
    RUSTFLAGS="$flags" CARGO_TARGET_DIR="target/$label" cargo bench --bench dependent "$@"
}

for label in dependent native; do
    flags=""
    [ "$label" = native ] && flags="-C target-cpu=native"
    echo "== build $label: RUSTFLAGS=\"$flags\"" >&2
    bench "$label" "$flags" --no-run >&2
done

r=1
while [ "$r" -le "$rounds" ]; do
    for label in dependent native; do
        flags=""
        [ "$label" = native ] && flags="-C target-cpu=native"
        echo "== round $r of $rounds, $label" >&2
        bench "$label" "$flags" -- --noplot "$@" >&2
        for d in "target/$label/criterion/dependent"/*/; do
            name=$(basename "$d")
            cp "$d/new/estimates.json" "$out/$label.$name.$r.json"
        done
    done
    r=$((r + 1))
done

python3 - "$out" <<'PY'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
names = ["gemm_nt_64x784x256", "fashion_f32_batch1", "fashion_int8_batch1", "train_step_b64"]
def best(label, name):
    meds = [json.loads(p.read_text())["median"]["point_estimate"] / 1e3
            for p in sorted(out.glob(f"{label}.{name}.*.json"))]
    return min(meds), meds
print(f"{'benchmark':<21} {'dependent µs':>12} {'native µs':>10} {'dependent/native speed':>23}")
for n in names:
    (d, dm), (nat, nm) = best("dependent", n), best("native", n)
    print(f"{n:<21} {d:>12.2f} {nat:>10.2f} {nat / d:>22.0%}"
          f"   (medians: {', '.join(f'{x:.1f}' for x in dm)} | {', '.join(f'{x:.1f}' for x in nm)})")
PY
