//! What the two fine-tuning programs (`src/bin/finetune.rs`, `src/bin/finetune_cnn.rs`)
//! share: the shifted task's samples from the bundle, the output of each reported value,
//! and the end of the run. Included by each with `#[path]`.

use cortex_m_semihosting::hprintln;
use firmnet_demo::finetune::Samples;
use firmnet_demo::{bundle, report};

bundle!(
    TRAIN_IMAGES: "finetune_train_images.bin",
    TRAIN_LABELS: "finetune_train_labels.bin",
    EVAL_IMAGES: "finetune_eval_images.bin",
    EVAL_LABELS: "finetune_eval_labels.bin",
);

/// The embedded samples of the shifted task.
pub fn samples() -> Samples<'static> {
    Samples {
        train_images: TRAIN_IMAGES,
        train_labels: TRAIN_LABELS,
        eval_images: EVAL_IMAGES,
        eval_labels: EVAL_LABELS,
    }
}

/// Prints one reported value as `label index 0xBITS`.
pub fn value(label: &str, index: usize, value: f32) {
    report::value(&mut board::write, label, index, value);
}

/// Prints `error: …` and exits with status 1.
pub fn fail(error: impl core::fmt::Display) -> ! {
    board::allow_unaligned();
    hprintln!("error: {}", error);
    board::fail(b"")
}

/// Ends the run: on success the stack's high-water mark, `done` and status 0; on an error,
/// [`fail`].
pub fn finish<E: core::fmt::Display>(result: Result<(), E>) -> ! {
    if let Err(e) = result {
        fail(e)
    }
    board::write(b"stack ");
    board::write_int(board::stack_high_water().0 as i32);
    board::write(b"\ndone\n");
    board::success()
}
