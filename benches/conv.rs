//! f32 convolutions at the shapes of small image and keyword-spotting networks, each beside
//! our scalar reference in one criterion group, so one run gives the ratio:
//!
//! | group | computes |
//! | --- | --- |
//! | `fma_peak_{before,after}/…` | the FMA peak (`benches/common/peak.rs`), measured first and last in the run |
//! | `conv_forward/…` | `Conv2d<14,14,16,32,3,3,14,14>` training forward at batch 64: `C = patches·Wᵀ + bias`, the patches read in place or im2col of the batch first |
//! | `conv_weight_grad/…` | its weight gradient `dW += dYᵀ·patches` |
//! | `conv_forward/b64_28x28x1_to_16_3x3/…` | the CNN's first convolution (one input channel) at batch 64: im2col and `gemm_nt_ordered` (`simd`) against the patches read in place (`in_place`) |
//! | `conv_input_grad/…` | its input gradient: `dPatches = dY·W`, then col2im into `dX` (`simd_per_sample`: sample by sample, as the layer runs it) |
//! | `conv_infer/…` | the same layer at batch 1: [`Infer::forward`] with its [`Scratch`] (a block of [`INFER_PATCHES`](firmnet::layers::INFER_PATCHES) patches), with room for one patch (`simd_one_patch`, its footprint before the block), and `gemm_nt` per patch as the layer ran before `gemm_nt_ordered` |
//! | `depthwise_{forward,weight_grad,input_grad}/…` | `DepthwiseConv2d<25,5,64,3,3,25,5>` at batch 64 |
//!
//! Each group counts 2 FLOP per multiply–add, the taps that fall on the zero padding
//! included (as CMSIS-NN's figures count them), so criterion prints FLOP/s ("elem/s"):
//! `2·B·OH·OW·K·KH·KW·C` for a convolution, `2·B·OH·OW·C·KH·KW` for a depthwise one. In
//! every group `simd` runs the kernels the layers call at the selected SIMD level
//! ([`kernels::simd_level`]) and `reference` their scalar twins
//! ([`kernels::reference`], [`kernels::conv::reference`]); `simd_product_only` the matrix
//! product without im2col or col2im; `layer` the layer itself through the global
//! dispatch (its cache included). In `conv_forward` the layers' product
//! ([`kernels::gemm_nt_ordered`]) runs at every SIMD level this CPU has (`ordered_<level>`,
//! the product alone; `simd` with im2col of the batch first, as the layer ran it,
//! `simd_per_sample` sample after sample, at the selected level), the same product read in
//! place from the input maps without im2col ([`simd::Simd::conv_ordered`], `in_place_<level>`,
//! the layer's path), beside the dot-product
//! [`simd::gemm_nt`] it replaced (`gemm_nt_…`). Times are the thread's CPU time
//! (`benches/common/cpu_time.rs`), and the run measures the FMA peak before and after the
//! kernels, so the fraction of the peak comes from one run.
//!
//! `cargo bench --features std --bench conv` (filter e.g. `-- conv_forward`).

use std::hint::black_box;

use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use firmnet::kernels::conv::{self as kconv, Window};
use firmnet::kernels::{self, reference, simd};
use firmnet::layers::{Conv2d, Conv2dCache, DepthwiseConv2d};
use firmnet::prelude::*;

#[path = "common/cpu_time.rs"]
mod cpu_time;
#[path = "common/peak.rs"]
mod peak;

use cpu_time::ThreadCpuTime;

/// The criterion of this benchmark: the thread's CPU time.
type Crit = Criterion<ThreadCpuTime>;

/// Batch of the training groups.
const B: usize = 64;

/// 3×3, 14×14×16 → 14×14×32, `Same` padding.
type Conv = Conv2d<14, 14, 16, 32, 3, 3, 14, 14>;
/// Depthwise 3×3 on 25×5×64, `Same` padding.
type Dw = DepthwiseConv2d<25, 5, 64, 3, 3, 25, 5>;
/// The convolution's input map.
type In = [[[f32; 16]; 14]; 14];
/// The depthwise layer's input and output map.
type DwMap = [[[f32; 64]; 5]; 25];

/// Deterministic values in [-1, 1) (a 32-bit LCG, no `rand` dependency).
fn data(len: usize, seed: u32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (s >> 8) as f32 / (1u32 << 23) as f32 - 1.0
        })
        .collect()
}

/// A boxed batch of `B` samples of `T` filled with [`data`].
fn filled<T: Tensor<Elem = f32>>(seed: u32) -> Box<[T; B]>
where
    [T; B]: Zero,
{
    let mut t = firmnet::boxed::zero::<[T; B]>();
    let flat = T::batch_slice_mut(&mut t);
    flat.copy_from_slice(&data(flat.len(), seed));
    t
}

fn group<'a>(c: &'a mut Crit, name: &str, flop: usize) -> BenchmarkGroup<'a, ThreadCpuTime> {
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(flop as u64));
    g
}

/// The convolution layer with seeded weights.
fn conv_layer() -> Box<Conv> {
    let mut l = firmnet::boxed!(Conv::ZERO);
    l.weight_matrix_mut().copy_from_slice(&data(32 * 144, 1));
    l.bias.copy_from_slice(&data(32, 2));
    l
}

fn conv(c: &mut Crit) {
    let g: Window = Conv::WINDOW;
    let (n, k) = (g.patch_len(), 32);
    let m = B * g.pixels();
    let flop = 2 * m * n * k;
    let name = "b64_14x14x16_to_32_3x3";
    let mut layer = conv_layer();
    let x: Box<[In; B]> = filled(3);
    let dy = data(m * k, 4);
    let mut y: Box<[[[[f32; 32]; 14]; 14]; B]> = firmnet::boxed::zero();
    let mut cache: Box<Conv2dCache<B, 14, 14, 3, 3, 16>> = firmnet::boxed::zero();
    let mut patches = vec![0.0; m * n];
    let mut out = vec![0.0; m * k];
    let xs = In::batch_slice(&x);
    let per_sample = g.input_len();
    for (xb, pb) in xs
        .chunks_exact(per_sample)
        .zip(patches.chunks_exact_mut(g.pixels() * n))
    {
        kconv::im2col(&g, xb, pb);
    }
    let w = layer.weight_matrix().to_vec();
    let bias = layer.bias;

    let mut gr = group(c, &format!("conv_forward/{name}"), flop);
    gr.bench_function("simd", |bch| {
        bch.iter(|| {
            for (xb, pb) in xs
                .chunks_exact(per_sample)
                .zip(patches.chunks_exact_mut(g.pixels() * n))
            {
                kconv::im2col(&g, black_box(xb), pb);
            }
            simd::gemm_nt_ordered(&patches, &w, &bias, &mut out, m, k, n);
        })
    });
    // im2col of one sample, then its product, sample after sample (the layer does the
    // whole batch's im2col first): whether reading the patches while in cache pays.
    gr.bench_function("simd_per_sample", |bch| {
        bch.iter(|| {
            for ((xb, pb), ob) in xs
                .chunks_exact(per_sample)
                .zip(patches.chunks_exact_mut(g.pixels() * n))
                .zip(out.chunks_exact_mut(g.pixels() * k))
            {
                kconv::im2col(&g, black_box(xb), pb);
                simd::gemm_nt_ordered(pb, &w, &bias, ob, g.pixels(), k, n);
            }
        })
    });
    for s in simd::Simd::available() {
        gr.bench_function(format!("ordered_{}", s.level()), |bch| {
            bch.iter(|| s.gemm_nt_ordered(black_box(&patches), &w, &bias, &mut out, m, k, n))
        });
    }
    // The forward pass without im2col: the product reads the patches in place from the
    // padded maps (`kernels::conv_ordered`, what the layer runs), at every level.
    let mut padded = vec![0.0; g.padded_len()];
    for s in simd::Simd::available() {
        gr.bench_function(format!("in_place_{}", s.level()), |bch| {
            bch.iter(|| s.conv_ordered(&g, black_box(xs), &w, &bias, &mut out, &mut padded))
        });
    }
    gr.bench_function("gemm_nt_product_only", |bch| {
        bch.iter(|| simd::gemm_nt(black_box(&patches), &w, &bias, &mut out, m, k, n))
    });
    gr.bench_function("gemm_nt_with_im2col", |bch| {
        bch.iter(|| {
            for (xb, pb) in xs
                .chunks_exact(per_sample)
                .zip(patches.chunks_exact_mut(g.pixels() * n))
            {
                kconv::im2col(&g, black_box(xb), pb);
            }
            simd::gemm_nt(&patches, &w, &bias, &mut out, m, k, n);
        })
    });
    gr.bench_function("layer", |bch| {
        let mut ctx = Context::new(0);
        bch.iter(|| layer.forward_train(black_box(&*x), &mut y, &mut *cache, &mut ctx))
    });
    gr.sample_size(10);
    gr.bench_function("reference", |bch| {
        bch.iter(|| {
            for (xb, pb) in xs
                .chunks_exact(per_sample)
                .zip(patches.chunks_exact_mut(g.pixels() * n))
            {
                kconv::reference::im2col(&g, black_box(xb), pb);
            }
            reference::gemm_nt(&patches, &w, &bias, &mut out, m, k, n);
        })
    });
    gr.finish();

    let mut dw = vec![0.0; k * n];
    let mut gr = group(c, &format!("conv_weight_grad/{name}"), flop);
    gr.bench_function("simd", |bch| {
        bch.iter(|| simd::gemm_tn_acc(black_box(&dy), &patches, &mut dw, k, n, m))
    });
    gr.sample_size(10);
    gr.bench_function("reference", |bch| {
        bch.iter(|| reference::gemm_tn_acc(black_box(&dy), &patches, &mut dw, k, n, m))
    });
    gr.finish();

    let mut dpatches = vec![0.0; m * n];
    let mut dx = vec![0.0; B * per_sample];
    let mut gr = group(c, &format!("conv_input_grad/{name}"), flop);
    gr.bench_function("simd", |bch| {
        bch.iter(|| {
            simd::gemm_nn(black_box(&dy), &w, &mut dpatches, m, n, k);
            dx.fill(0.0);
            for (db, dxb) in dpatches
                .chunks_exact(g.pixels() * n)
                .zip(dx.chunks_exact_mut(per_sample))
            {
                kconv::col2im_add(&g, db, dxb);
            }
        })
    });
    // Sample by sample (the layer's order): the same bits, each sample's patch gradients
    // added while in cache.
    gr.bench_function("simd_per_sample", |bch| {
        bch.iter(|| {
            let room = &mut dpatches[..g.pixels() * n];
            for (dyb, dxb) in dy
                .chunks_exact(g.pixels() * k)
                .zip(dx.chunks_exact_mut(per_sample))
            {
                simd::gemm_nn(black_box(dyb), &w, room, g.pixels(), n, k);
                dxb.fill(0.0);
                kconv::col2im_add(&g, room, dxb);
            }
        })
    });
    gr.bench_function("simd_product_only", |bch| {
        bch.iter(|| simd::gemm_nn(black_box(&dy), &w, &mut dpatches, m, n, k))
    });
    gr.sample_size(10);
    gr.bench_function("reference", |bch| {
        bch.iter(|| {
            reference::gemm_nn(black_box(&dy), &w, &mut dpatches, m, n, k);
            dx.fill(0.0);
            for (db, dxb) in dpatches
                .chunks_exact(g.pixels() * n)
                .zip(dx.chunks_exact_mut(per_sample))
            {
                kconv::reference::col2im_add(&g, db, dxb);
            }
        })
    });
    gr.finish();

    // Batch-1 inference through the layer, at each backend.
    let x1 = &x[0];
    let mut y1 = [[[0.0f32; 32]; 14]; 14];
    let mut scratch = firmnet::boxed::zero::<Scratch<Conv>>();
    let mut gr = group(c, "conv_infer/b1_14x14x16_to_32_3x3", flop / B);
    gr.bench_function("simd", |bch| {
        kernels::set_backend(kernels::Backend::Simd);
        bch.iter(|| layer.forward(black_box(x1), &mut y1, &mut scratch))
    });
    // The layer with room for one patch, its footprint before `INFER_PATCHES`.
    let mut room = vec![0.0; n];
    gr.bench_function("simd_one_patch", |bch| {
        bch.iter(|| layer.forward_with(black_box(x1), &mut y1, &mut room))
    });
    // What the layer ran before `gemm_nt_ordered`: one patch, then `gemm_nt` on it.
    let mut patch = vec![0.0; n];
    let x1s = x1.as_flattened().as_flattened();
    gr.bench_function("gemm_nt_per_pixel", |bch| {
        bch.iter(|| {
            let y = y1.as_flattened_mut().as_flattened_mut();
            for (q, out) in y.chunks_exact_mut(k).enumerate() {
                kconv::patch(&g, black_box(x1s), q / 14, q % 14, &mut patch);
                simd::gemm_nt(&patch, &w, &bias, out, 1, k, n);
            }
        })
    });
    gr.bench_function("reference", |bch| {
        kernels::set_backend(kernels::Backend::Reference);
        bch.iter(|| layer.forward(black_box(x1), &mut y1, &mut scratch));
        kernels::set_backend(kernels::Backend::Simd);
    });
    gr.finish();
}

fn depthwise(c: &mut Crit) {
    let g: Window = Dw::WINDOW;
    let flop = 2 * B * g.pixels() * g.c() * g.kh() * g.kw();
    let name = "b64_25x5x64_3x3";
    let mut layer = firmnet::boxed!(Dw::ZERO);
    layer.weight_flat_mut().copy_from_slice(&data(9 * 64, 1));
    let x: Box<[DwMap; B]> = filled(2);
    let dy: Box<[DwMap; B]> = filled(3);
    let mut y: Box<[[[[f32; 64]; 5]; 25]; B]> = firmnet::boxed::zero();
    let mut dx: Box<[[[[f32; 64]; 5]; 25]; B]> = firmnet::boxed::zero();
    let mut grad = firmnet::boxed!(Dw::ZERO);
    let s = simd::Simd::selected();
    let per = g.input_len();
    let (xs, dys) = (DwMap::batch_slice(&x), DwMap::batch_slice(&dy));
    let w = layer.weight_flat().to_vec();
    let bias = layer.bias;

    let mut gr = group(c, &format!("depthwise_forward/{name}"), flop);
    gr.bench_function("simd", |bch| {
        bch.iter(|| {
            for (xb, yb) in xs
                .chunks_exact(per)
                .zip(DwMap::batch_slice_mut(&mut y).chunks_exact_mut(per))
            {
                s.depthwise(&g, black_box(xb), &w, &bias, yb);
            }
        })
    });
    gr.bench_function("layer", |bch| {
        let mut ctx = Context::new(0);
        bch.iter(|| layer.forward_train(black_box(&*x), &mut y, &mut (), &mut ctx))
    });
    gr.bench_function("reference", |bch| {
        bch.iter(|| {
            for (xb, yb) in xs
                .chunks_exact(per)
                .zip(DwMap::batch_slice_mut(&mut y).chunks_exact_mut(per))
            {
                kconv::reference::depthwise(&g, black_box(xb), &w, &bias, yb);
            }
        })
    });
    gr.finish();

    let dw = grad.weight_flat_mut();
    let mut db = [0.0; 64];
    let mut gr = group(c, &format!("depthwise_weight_grad/{name}"), flop);
    gr.bench_function("simd", |bch| {
        bch.iter(|| {
            for (xb, dyb) in xs.chunks_exact(per).zip(dys.chunks_exact(per)) {
                s.depthwise_params_grad(&g, black_box(xb), dyb, dw, &mut db);
            }
        })
    });
    gr.bench_function("reference", |bch| {
        bch.iter(|| {
            for (xb, dyb) in xs.chunks_exact(per).zip(dys.chunks_exact(per)) {
                kconv::reference::depthwise_params_grad(&g, black_box(xb), dyb, dw, &mut db);
            }
        })
    });
    gr.finish();

    let mut gr = group(c, &format!("depthwise_input_grad/{name}"), flop);
    gr.bench_function("simd", |bch| {
        bch.iter(|| {
            for (dyb, dxb) in dys
                .chunks_exact(per)
                .zip(DwMap::batch_slice_mut(&mut dx).chunks_exact_mut(per))
            {
                s.depthwise_input_grad(&g, &w, black_box(dyb), dxb);
            }
        })
    });
    gr.bench_function("reference", |bch| {
        bch.iter(|| {
            for (dyb, dxb) in dys
                .chunks_exact(per)
                .zip(DwMap::batch_slice_mut(&mut dx).chunks_exact_mut(per))
            {
                kconv::reference::depthwise_input_grad(&g, &w, black_box(dyb), dxb);
            }
        })
    });
    gr.finish();
}

/// The first convolution of the CNN (3×3, 28×28×1 → 28×28×16, batch 64): patches of
/// one channel, whose runs are 3 values long.
fn conv_one_channel(c: &mut Crit) {
    let g = Window::new(28, 28, 1, 3, 3, 1, true).unwrap();
    let (n, k) = (g.patch_len(), 16);
    let m = B * g.pixels();
    let mut gr = group(c, "conv_forward/b64_28x28x1_to_16_3x3", 2 * m * n * k);
    let x = data(B * g.input_len(), 3);
    let w = data(k * n, 1);
    let bias = data(k, 2);
    let mut patches = vec![0.0; m * n];
    let mut out = vec![0.0; m * k];
    let mut padded = vec![0.0; g.padded_len()];
    let s = simd::Simd::selected();
    gr.bench_function("simd", |bch| {
        bch.iter(|| {
            for (xb, pb) in x
                .chunks_exact(g.input_len())
                .zip(patches.chunks_exact_mut(g.pixels() * n))
            {
                kconv::im2col(&g, black_box(xb), pb);
            }
            s.gemm_nt_ordered(&patches, &w, &bias, &mut out, m, k, n);
        })
    });
    gr.bench_function("in_place", |bch| {
        bch.iter(|| s.conv_ordered(&g, black_box(&x), &w, &bias, &mut out, &mut padded))
    });
    gr.finish();
}

/// The FMA peak before the kernels.
fn peak_before(c: &mut Crit) {
    peak::group(c, "fma_peak_before");
}

/// The FMA peak after them.
fn peak_after(c: &mut Crit) {
    peak::group(c, "fma_peak_after");
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = peak_before, conv, conv_one_channel, depthwise, peak_after
}
criterion_main!(benches);
