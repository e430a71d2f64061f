//! Any bytes, read as either format: no panic, errors inside the input, every label
//! readable, and `validate` agreeing with the iterator.

#![no_main]

use libfuzzer_sys::fuzz_target;
use seam_exposition::{validate, Entry, Format, Parser};

fuzz_target!(|input: &[u8]| {
    for format in [Format::Prometheus, Format::OpenMetrics] {
        let mut samples = 0;
        let mut error = None;
        for entry in Parser::new(input, format) {
            match entry {
                Ok(Entry::Sample(sample)) => {
                    samples += 1;
                    assert_eq!(sample.labels.iter().count(), sample.labels.len());
                    if let Some(exemplar) = &sample.exemplar {
                        assert_eq!(exemplar.labels.iter().count(), exemplar.labels.len());
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        match error {
            None => assert_eq!(validate(input, format), Ok(samples)),
            Some(error) => {
                let lines: Vec<&[u8]> = input.split(|&c| c == b'\n').collect();
                assert!(error.line >= 1 && error.line <= lines.len(), "{error}");
                let chars = String::from_utf8_lossy(lines[error.line - 1])
                    .chars()
                    .count();
                assert!(error.column >= 1 && error.column <= chars + 1, "{error}");
                assert_eq!(validate(input, format), Err(error));
            }
        }
    }
});
