//! Rejections: where in the input, and why.

/// Why an exposition was rejected, and where.
///
/// `line` and `column` are 1-based; `column` counts characters (Unicode scalar values)
/// from the start of the line, so it matches what an editor shows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct ParseError {
    /// The line, counting from 1.
    pub line: usize,
    /// The character within the line, counting from 1.
    pub column: usize,
    /// What is wrong, in lowercase without a trailing period.
    pub message: String,
}

/// A rejection as the scanners see it: a byte offset and a message. The parser adds the
/// line and column, which only it tracks.
#[derive(Debug)]
pub(crate) struct Fail {
    /// Byte offset of the offending text in the input.
    pub(crate) at: usize,
    /// The line and the byte offset of its start, for a rejection about an earlier line
    /// (a histogram's buckets checked once they are all read); `None` means the line
    /// being parsed.
    pub(crate) line: Option<(usize, usize)>,
    pub(crate) message: String,
}

impl Fail {
    /// A rejection on the line being parsed.
    pub(crate) fn new(at: usize, message: impl Into<String>) -> Fail {
        Fail {
            at,
            line: None,
            message: message.into(),
        }
    }

    /// A rejection about the start of an earlier line.
    pub(crate) fn on_line(line: usize, line_start: usize, message: impl Into<String>) -> Fail {
        Fail {
            at: line_start,
            line: Some((line, line_start)),
            message: message.into(),
        }
    }
}
