//! The firmware's MLPerf Tiny program (`firmnet_demo::mlperf`, which
//! `targets/qemu-cortex-m4/src/bin/mlperf_*.rs` run), on the host: the network borrowed from
//! its weight file, run over inputs laid out as the firmware embeds them, its `out` lines
//! decoded back — the outputs are TensorFlow Lite Micro's. The example `mlperf_tiny` reads
//! the same lines from QEMU.

mod common;

use common::mlperf::{self, Model};
use firmnet::format;
use firmnet::host::tflite::TfliteModel;
use firmnet::quant::Borrowed;
use firmnet_demo::mlperf::{Buffers, report, run};

mod types {
    include!("mlperf_tiny/models/ad.rs");
    include!("mlperf_tiny/models/kws.rs");
}

/// The bytes of `file` at a 4-byte aligned address, as the firmware's flash holds them.
fn aligned(file: &[u8]) -> Vec<u32> {
    let mut words = vec![0u32; file.len().div_ceil(4)];
    bytemuck::cast_slice_mut::<u32, u8>(&mut words)[..file.len()].copy_from_slice(file);
    words
}

/// The `out i HEX` lines decoded: `(i, values)`.
fn decode(text: &str) -> Vec<(usize, Vec<i8>)> {
    text.lines()
        .map(|line| {
            let mut words = line.split(' ');
            assert_eq!(words.next(), Some("out"), "{line}");
            let i = words.next().unwrap().parse().unwrap();
            let hex = words.next().unwrap();
            let values = (0..hex.len())
                .step_by(2)
                .map(|k| u8::from_str_radix(&hex[k..k + 2], 16).unwrap() as i8)
                .collect();
            (i, values)
        })
        .collect()
}

/// The first `n` inputs of `model` as the firmware embeds them, one byte per value.
fn input_bytes(model: Model, n: usize) -> Vec<u8> {
    mlperf::inputs(model)
        .iter()
        .take(n)
        .flatten()
        .map(|&v| v as u8)
        .collect()
}

#[test]
fn the_firmware_program_reports_tflm_outputs() {
    let low = TfliteModel::parse(&Model::Kws.tflite())
        .and_then(|m| m.lower())
        .unwrap();
    let net: Box<types::Kws> = low.network().unwrap();
    let words = aligned(&format::save(&*net).unwrap());
    let view: types::Kws<Borrowed<'_>> =
        format::view(bytemuck::cast_slice::<u32, u8>(&words)).unwrap();
    let mut buf = Box::new(Buffers::<types::Kws<Borrowed<'_>>>::ZERO);
    let n = 20;
    // A partial input at the end is ignored.
    let mut inputs = input_bytes(Model::Kws, n);
    inputs.extend_from_slice(&[1, 2, 3]);
    let mut text = Vec::new();
    let count = run(&view, &inputs, &mut buf, |i, y| {
        report(&mut |b: &[u8]| text.extend_from_slice(b), i, y)
    });
    assert_eq!(count, n);
    let lines = decode(std::str::from_utf8(&text).unwrap());
    let reference = mlperf::reference_outputs(Model::Kws);
    assert_eq!(lines.len(), n);
    for (k, (i, values)) in lines.into_iter().enumerate() {
        assert_eq!(i, k);
        assert_eq!(values, reference[k], "input {k}");
    }
}

/// Outputs longer than one write (AD's 640 values) come out whole, every byte's two hex
/// digits in order.
#[test]
fn long_outputs_are_reported_whole() {
    let low = TfliteModel::parse(&Model::Ad.tflite())
        .and_then(|m| m.lower())
        .unwrap();
    let net: Box<types::Ad> = low.network().unwrap();
    let words = aligned(&format::save(&*net).unwrap());
    let view: types::Ad<Borrowed<'_>> =
        format::view(bytemuck::cast_slice::<u32, u8>(&words)).unwrap();
    let mut buf = Box::new(Buffers::<types::Ad<Borrowed<'_>>>::ZERO);
    let mut text = Vec::new();
    let mut writes = 0;
    let count = run(&view, &input_bytes(Model::Ad, 3), &mut buf, |i, y| {
        report(
            &mut |b: &[u8]| {
                writes += 1;
                text.extend_from_slice(b)
            },
            i,
            y,
        )
    });
    assert_eq!(count, 3);
    let reference = mlperf::reference_outputs(Model::Ad);
    let lines = decode(std::str::from_utf8(&text).unwrap());
    assert_eq!(lines.len(), 3);
    for (k, (i, values)) in lines.into_iter().enumerate() {
        assert_eq!((i, values.len()), (k, 640));
        assert_eq!(values, reference[k], "input {k}");
    }
    // `out`, the index, a space, 20 pieces of 32 values and the newline, per input.
    assert_eq!(writes, 3 * (3 + 20 + 1));
    // The hex digits of a known byte pattern.
    let mut line = Vec::new();
    report(
        &mut |b: &[u8]| line.extend_from_slice(b),
        7,
        &[-128, -1, 0, 1, 127],
    );
    assert_eq!(line, b"out 7 80ff00017f\n");
}
