//! Byte-level scanning shared by both formats: names, quoted strings and label sets.
//!
//! Everything here works on the bytes of text that is already known to be UTF-8, and
//! only ever cuts it next to ASCII bytes, so every slice it returns is a valid `&str`.

use std::borrow::Cow;

use crate::error::Fail;

const METRIC_START: u8 = 1;
const METRIC_CHAR: u8 = 2;
const LABEL_START: u8 = 4;
const LABEL_CHAR: u8 = 8;

/// Character classes of the names: `[a-zA-Z_:][a-zA-Z0-9_:]*` for metrics,
/// `[a-zA-Z_][a-zA-Z0-9_]*` for labels.
static CLASSES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        table[i] = if c.is_ascii_alphabetic() || c == b'_' {
            METRIC_START | METRIC_CHAR | LABEL_START | LABEL_CHAR
        } else if c == b':' {
            METRIC_START | METRIC_CHAR
        } else if c.is_ascii_digit() {
            METRIC_CHAR | LABEL_CHAR
        } else {
            0
        };
        i += 1;
    }
    table
};

#[inline]
pub(crate) fn is_metric_start(c: u8) -> bool {
    CLASSES[usize::from(c)] & METRIC_START != 0
}

#[inline]
pub(crate) fn is_metric_char(c: u8) -> bool {
    CLASSES[usize::from(c)] & METRIC_CHAR != 0
}

#[inline]
pub(crate) fn is_blank(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

/// The end of the run of metric-name characters starting at `from`.
#[inline]
pub(crate) fn metric_name_end(bytes: &[u8], from: usize) -> usize {
    let mut i = from;
    while i < bytes.len() && is_metric_char(bytes[i]) {
        i += 1;
    }
    i
}

#[inline]
pub(crate) fn label_name_end(bytes: &[u8], from: usize) -> usize {
    let mut i = from;
    while i < bytes.len() && CLASSES[usize::from(bytes[i])] & LABEL_CHAR != 0 {
        i += 1;
    }
    i
}

#[inline]
pub(crate) fn skip_blanks(bytes: &[u8], from: usize) -> usize {
    let mut i = from;
    while i < bytes.len() && is_blank(bytes[i]) {
        i += 1;
    }
    i
}

/// The offset of the line feed ending the line that contains `from`, or the input's
/// length when the last line has none.
#[inline]
pub(crate) fn line_end(bytes: &[u8], from: usize) -> usize {
    let mut i = from;
    while let Some(word) = word_at(bytes, i) {
        let hits = byte_matches(word, b'\n');
        if hits != 0 {
            return i + first_match(hits);
        }
        i += 8;
    }
    while i < bytes.len() && bytes[i] != b'\n' {
        i += 1;
    }
    i
}

/// The offset of the first `"`, `\` or line feed at or after `from`, or the input's
/// length: where a quoted string may end.
#[inline]
pub(crate) fn quote_stop(bytes: &[u8], from: usize) -> usize {
    let mut i = from;
    while let Some(word) = word_at(bytes, i) {
        let hits = byte_matches(word, b'"') | byte_matches(word, b'\\') | byte_matches(word, b'\n');
        if hits != 0 {
            return i + first_match(hits);
        }
        i += 8;
    }
    while i < bytes.len() && !matches!(bytes[i], b'"' | b'\\' | b'\n') {
        i += 1;
    }
    i
}

/// The offset of the first `byte` at or after `from`, or the input's length.
#[inline(always)]
pub(crate) fn find_byte(bytes: &[u8], from: usize, byte: u8) -> usize {
    let mut i = from;
    while let Some(word) = word_at(bytes, i) {
        let hits = byte_matches(word, byte);
        if hits != 0 {
            return i + first_match(hits);
        }
        i += 8;
    }
    while i < bytes.len() && bytes[i] != byte {
        i += 1;
    }
    i
}

// Searching eight bytes at a time ("SWAR"): label values and help texts are long enough
// for this to pay, and short enough that SIMD set-up would not.
const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

#[inline(always)]
fn word_at(bytes: &[u8], at: usize) -> Option<u64> {
    let chunk = bytes.get(at..at + 8)?;
    let mut word = [0u8; 8];
    word.copy_from_slice(chunk);
    Some(u64::from_le_bytes(word))
}

/// Marks (high bit) the bytes of `word` equal to `byte`. Only the lowest mark is exact,
/// which is all [`first_match`] reads.
#[inline(always)]
fn byte_matches(word: u64, byte: u8) -> u64 {
    let x = word ^ (ONES * u64::from(byte));
    x.wrapping_sub(ONES) & !x & HIGHS
}

#[inline(always)]
fn first_match(marks: u64) -> usize {
    (marks.trailing_zeros() / 8) as usize
}

/// A quoted string: the offsets of its content (between the quotes) and whether that
/// content holds backslash escapes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Quoted {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) escaped: bool,
}

impl Quoted {
    /// The offset just past the closing quote.
    pub(crate) fn after(self) -> usize {
        self.end + 1
    }
}

/// Scans the quoted string whose opening quote is at `open`. A backslash escapes the
/// character after it; a line feed must be written `\n` (Prometheus' own lexer lets a
/// raw one through, the format's specification and OpenMetrics do not).
#[inline(always)]
pub(crate) fn scan_quoted(bytes: &[u8], open: usize) -> Result<Quoted, Fail> {
    debug_assert_eq!(bytes.get(open), Some(&b'"'));
    let mut i = open + 1;
    let mut escaped = false;
    loop {
        i = quote_stop(bytes, i);
        match bytes.get(i) {
            Some(b'"') => {
                return Ok(Quoted {
                    start: open + 1,
                    end: i,
                    escaped,
                })
            }
            Some(b'\\') => {
                escaped = true;
                match bytes.get(i + 1) {
                    Some(b'\n') | None => {
                        return Err(Fail::new(i, "backslash at the end of the line"));
                    }
                    Some(_) => i += 2,
                }
            }
            Some(_) => {
                return Err(Fail::new(
                    i,
                    "line ends inside a quoted string (a line feed is written \\n)",
                ));
            }
            None => return Err(Fail::new(i, "input ends inside a quoted string")),
        }
    }
}

/// Undoes the escapes of a label value (`\\`, `\"`, `\n`) or, with `quote` false, of a
/// Prometheus HELP text (`\\`, `\n`). A backslash before any other character stays, as
/// both Prometheus and the OpenMetrics reference parser keep it.
pub(crate) fn unescape(raw: &str, quote: bool) -> Cow<'_, str> {
    if !raw.contains('\\') {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('"') if quote => out.push('"'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    Cow::Owned(out)
}

/// How strictly a label set is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    /// OpenMetrics: no blanks, commas only between labels.
    Strict,
    /// Prometheus text: blanks anywhere between tokens, a trailing comma, and (as
    /// Prometheus' parser allows) no comma at all between two labels.
    Lenient,
}

/// One label as written: its name and the raw text of its value (escapes included).
#[derive(Debug, Clone, Copy)]
pub(crate) struct LabelSpan<'a> {
    pub(crate) name: &'a str,
    pub(crate) value: &'a str,
    pub(crate) escaped: bool,
    /// Offset of the name, for error messages.
    pub(crate) at: usize,
    /// Offset just past the value's closing quote.
    pub(crate) end: usize,
    /// A hash of the name and the unescaped value, for OpenMetrics' grouping rules;
    /// 0 until computed (by `openmetrics::group_key`), and kept when the label is reused
    /// by the next line.
    pub(crate) hash: u64,
}

impl<'a> LabelSpan<'a> {
    pub(crate) fn unescaped(&self) -> Cow<'a, str> {
        if self.escaped {
            unescape(self.value, true)
        } else {
            Cow::Borrowed(self.value)
        }
    }
}

/// A label set `{...}` after scanning.
#[derive(Debug)]
pub(crate) struct LabelSet<'a> {
    /// The text between the braces.
    pub(crate) raw: &'a str,
    pub(crate) count: usize,
    /// A quoted metric name inside the braces (`{"my.metric",a="b"}`).
    pub(crate) name: Option<Quoted>,
    /// The offset just past the closing brace.
    pub(crate) end: usize,
    /// Whether the set is spelled `name="value",...` exactly: no blanks, no quoted
    /// names, no escapes, no trailing comma. Such a set is read back faster.
    pub(crate) plain: bool,
}

/// Label sets with more labels than this are checked for duplicate names by sorting
/// rather than by comparing each name with every other.
const LINEAR_DUPLICATE_CHECK: usize = 16;

/// A bit standing for a label name in a 64-bit filter: two names with different bits
/// differ, so only names whose bit is already set are compared with the others.
#[inline]
fn name_bit(name: &str) -> u64 {
    let bytes = name.as_bytes();
    let first = bytes.first().copied().unwrap_or(0);
    let last = bytes.last().copied().unwrap_or(0);
    let mix = bytes.len() as u32 ^ (u32::from(first) << 2) ^ (u32::from(last) << 4);
    1 << (mix & 63)
}

/// The label set of the previous sample line, whose labels are still at the start of
/// the label buffer: consecutive samples often repeat most of their labels (the buckets
/// of a histogram differ only in `le`), and the labels of an identical prefix need not
/// be scanned again.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Previous {
    /// Offset of the previous set's opening brace.
    pub(crate) open: usize,
    /// How many labels it had (at the start of the buffer).
    pub(crate) count: usize,
    /// Whether it was plain (see [`LabelSet::plain`]).
    pub(crate) plain: bool,
}

/// Scans the label set whose opening brace is at `open`, appending each label to
/// `labels`. `allow_name` admits a quoted metric name, which exemplars may not carry.
///
/// With `previous`, `labels` must start with that set's labels: those that the new set
/// repeats byte for byte from its start are kept (and not scanned again), the rest are
/// dropped before scanning goes on.
pub(crate) fn scan_label_set<'a>(
    text: &'a str,
    open: usize,
    style: Style,
    allow_name: bool,
    previous: Option<Previous>,
    labels: &mut Vec<LabelSpan<'a>>,
) -> Result<LabelSet<'a>, Fail> {
    let bytes = text.as_bytes();
    debug_assert_eq!(bytes.get(open), Some(&b'{'));
    let lenient = style == Style::Lenient;
    let mut plain = true;
    let mut skip = |i: usize| {
        if !lenient {
            return i;
        }
        let after = skip_blanks(bytes, i);
        plain &= after == i;
        after
    };
    let first = match previous {
        Some(previous) => {
            reuse_prefix(bytes, open, previous, labels);
            0
        }
        None => labels.len(),
    };
    let mut plain_labels = previous.is_none_or(|previous| previous.plain);
    let mut filter = labels[first..]
        .iter()
        .fold(0, |filter, label| filter | name_bit(label.name));
    let mut name = None;
    let mut after_comma = false;
    // After a reused label, scanning goes on where a label's value ends.
    let mut i = labels
        .get(first..)
        .and_then(<[_]>::last)
        .map_or(open + 1, |last| last.end);
    let mut after_value = labels.len() > first;
    loop {
        if after_value {
            i = skip(i);
            after_comma = false;
            match bytes.get(i) {
                Some(b',') => {
                    after_comma = true;
                    i += 1;
                }
                Some(b'}') => {}
                _ if lenient => plain_labels = false,
                _ => return Err(Fail::new(i, "expected ',' or '}' after a label")),
            }
        }
        after_value = true;
        i = skip(i);
        let at = i;
        let (label, quoted) = match bytes.get(i) {
            Some(&c) if CLASSES[usize::from(c)] & LABEL_START != 0 => {
                i = label_name_end(bytes, i);
                (&text[at..i], None)
            }
            Some(b'}') => {
                if after_comma && !lenient {
                    return Err(Fail::new(i - 1, "comma before '}'"));
                }
                plain_labels &= !after_comma;
                break;
            }
            Some(b'"') => {
                plain_labels = false;
                let quoted = scan_quoted(bytes, i)?;
                i = quoted.after();
                (&text[quoted.start..quoted.end], Some(quoted))
            }
            Some(b'\n') | None => return Err(Fail::new(i, "line ends inside a label set")),
            Some(_) => {
                return Err(Fail::new(
                    i,
                    "expected a label name ([a-zA-Z_][a-zA-Z0-9_]* or quoted)",
                ))
            }
        };
        i = skip(i);
        if let (Some(quoted), Some(b',' | b'}')) = (quoted, bytes.get(i)) {
            if !allow_name {
                return Err(Fail::new(at, "exemplar labels cannot name a metric"));
            }
            if name.is_some() {
                return Err(Fail::new(at, "two metric names in one label set"));
            }
            if quoted.start == quoted.end {
                return Err(Fail::new(at, "empty metric name"));
            }
            name = Some(quoted);
            continue;
        }
        if quoted.is_some_and(|q| q.escaped) {
            return Err(Fail::new(
                at,
                "escape sequences in quoted label names are not supported",
            ));
        }
        if label.is_empty() {
            return Err(Fail::new(at, "empty label name"));
        }
        if label.as_bytes()[0] == b'_' && label == "__name__" {
            return Err(Fail::new(
                at,
                "label __name__ is reserved: write the metric name before the braces, or quoted inside them",
            ));
        }
        if bytes.get(i) != Some(&b'=') {
            return Err(Fail::new(i, format!("expected '=' after label {label:?}")));
        }
        i = skip(i + 1);
        if bytes.get(i) != Some(&b'"') {
            return Err(Fail::new(
                i,
                format!("expected '\"' to open the value of label {label:?}"),
            ));
        }
        let value = scan_quoted(bytes, i)?;
        plain_labels &= !value.escaped;
        i = value.after();
        let bit = name_bit(label);
        if filter & bit != 0
            && labels.len() - first < LINEAR_DUPLICATE_CHECK
            && labels[first..].iter().any(|earlier| earlier.name == label)
        {
            return Err(Fail::new(at, format!("duplicate label {label:?}")));
        }
        filter |= bit;
        labels.push(LabelSpan {
            name: label,
            value: &text[value.start..value.end],
            escaped: value.escaped,
            at,
            end: i,
            hash: 0,
        });
    }
    let count = labels.len() - first;
    if count > LINEAR_DUPLICATE_CHECK {
        check_duplicates_sorted(&labels[first..])?;
    }
    Ok(LabelSet {
        raw: &text[open + 1..i],
        count,
        name,
        end: i + 1,
        plain: plain && plain_labels,
    })
}

/// Keeps the labels of `previous` that the set at `open` repeats from its start, moved
/// to their new offsets, and drops the others.
fn reuse_prefix(bytes: &[u8], open: usize, previous: Previous, labels: &mut Vec<LabelSpan<'_>>) {
    labels.truncate(previous.count);
    let Some(last) = labels.last() else {
        return;
    };
    debug_assert!(previous.open < open);
    let old = &bytes[previous.open..last.end];
    let new = &bytes[open..bytes.len().min(open + old.len())];
    let same = common_prefix(old, new);
    let kept = labels
        .iter()
        .take_while(|label| label.end - previous.open <= same)
        .count();
    labels.truncate(kept);
    let shift = open - previous.open;
    for label in labels.iter_mut() {
        label.at += shift;
        label.end += shift;
    }
}

/// The length of the longest common prefix of `a` and `b`, eight bytes at a time.
#[inline]
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + 8 <= n {
        let (Some(x), Some(y)) = (word_at(a, i), word_at(b, i)) else {
            break;
        };
        let diff = x ^ y;
        if diff != 0 {
            return i + (diff.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < n && a[i] == b[i] {
        i += 1;
    }
    i
}

/// The duplicate check for large label sets: O(n log n) whatever the input.
fn check_duplicates_sorted(labels: &[LabelSpan<'_>]) -> Result<(), Fail> {
    let mut sorted: Vec<&LabelSpan<'_>> = labels.iter().collect();
    sorted.sort_unstable_by(|a, b| a.name.cmp(b.name).then(a.at.cmp(&b.at)));
    match sorted.windows(2).find(|pair| pair[0].name == pair[1].name) {
        Some(pair) => Err(Fail::new(
            pair[1].at,
            format!("duplicate label {:?}", pair[1].name),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(text: &str, style: Style) -> Result<(usize, Vec<(String, String)>), String> {
        let mut labels = Vec::new();
        scan_label_set(text, 0, style, true, None, &mut labels)
            .map(|set| {
                let pairs = labels
                    .iter()
                    .map(|l| (l.name.to_owned(), l.unescaped().into_owned()))
                    .collect();
                (set.end, pairs)
            })
            .map_err(|fail| format!("{} at {}", fail.message, fail.at))
    }

    #[test]
    fn unescape_keeps_unknown_escapes() {
        assert_eq!(unescape(r#"a\\b\"c\nd\ze"#, true), "a\\b\"c\nd\\ze");
        assert_eq!(unescape(r#"a\"b"#, false), "a\\\"b");
        assert_eq!(unescape(r"trailing\", true), "trailing\\");
        assert!(matches!(unescape("plain", true), Cow::Borrowed("plain")));
    }

    #[test]
    fn strict_label_sets() {
        let ok = |text: &str| scan(text, Style::Strict).unwrap();
        assert_eq!(ok("{}").0, 2);
        assert_eq!(
            ok(r#"{a="1",b="x\"y"} 1"#).1,
            vec![("a".into(), "1".into()), ("b".into(), "x\"y".into())]
        );
        assert_eq!(
            ok(r#"{"my.label"="v"}"#).1,
            vec![("my.label".into(), "v".into())]
        );
        for bad in [
            r#"{a="1",}"#,
            r#"{,a="1"}"#,
            r#"{a="1",,b="2"}"#,
            r#"{a="1"b="2"}"#,
            r#"{ a="1"}"#,
            r#"{a ="1"}"#,
            r#"{a=1}"#,
            r#"{a='1'}"#,
            r#"{a}"#,
            r#"{a=}"#,
            r#"{a="1}"#,
            r#"{1="1"}"#,
            r#"{a="1",a="2"}"#,
            r#"{__name__="x"}"#,
            r#"{"a\"b"="c"}"#,
            "{a=\"line\nfeed\"}",
            r#"{"x","y"}"#,
            r#"{""}"#,
        ] {
            assert!(scan(bad, Style::Strict).is_err(), "{bad}");
        }
    }

    #[test]
    fn lenient_label_sets_accept_what_prometheus_does() {
        let ok = |text: &str| scan(text, Style::Lenient).unwrap().1;
        assert_eq!(
            ok("{ a = \"1\" ,\tb=\"2\" , }"),
            vec![("a".into(), "1".into()), ("b".into(), "2".into())]
        );
        assert_eq!(
            ok(r#"{a="1" b="2"}"#),
            vec![("a".into(), "1".into()), ("b".into(), "2".into())]
        );
        assert!(scan(r#"{,}"#, Style::Lenient).is_err());
        assert!(scan(r#"{a="1",,b="2"}"#, Style::Lenient).is_err());
    }

    #[test]
    fn many_labels_are_checked_for_duplicates_by_sorting() {
        let mut text = String::from("{");
        for i in 0..100 {
            text.push_str(&format!("l{i}=\"v\","));
        }
        text.push_str("l42=\"again\"}");
        let error = scan(&text, Style::Strict).unwrap_err();
        assert!(error.starts_with("duplicate label \"l42\""), "{error}");
    }
}
