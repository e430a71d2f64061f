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
fn label_name_end(bytes: &[u8], from: usize) -> usize {
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
    bytes[from..]
        .iter()
        .position(|&c| c == b'\n')
        .map_or(bytes.len(), |i| from + i)
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
#[inline]
pub(crate) fn scan_quoted(bytes: &[u8], open: usize) -> Result<Quoted, Fail> {
    debug_assert_eq!(bytes.get(open), Some(&b'"'));
    let mut i = open + 1;
    let mut escaped = false;
    loop {
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
            Some(b'\n') => {
                return Err(Fail::new(
                    i,
                    "line ends inside a quoted string (a line feed is written \\n)",
                ));
            }
            Some(_) => i += 1,
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
}

/// Label sets with more labels than this are checked for duplicate names by sorting
/// rather than by comparing each name with every other.
const LINEAR_DUPLICATE_CHECK: usize = 16;

/// Scans the label set whose opening brace is at `open`, appending each label to
/// `labels` (which the caller clears). `allow_name` admits a quoted metric name, which
/// exemplars may not carry.
pub(crate) fn scan_label_set<'a>(
    text: &'a str,
    open: usize,
    style: Style,
    allow_name: bool,
    labels: &mut Vec<LabelSpan<'a>>,
) -> Result<LabelSet<'a>, Fail> {
    let bytes = text.as_bytes();
    debug_assert_eq!(bytes.get(open), Some(&b'{'));
    let first = labels.len();
    let lenient = style == Style::Lenient;
    let skip = |i: usize| if lenient { skip_blanks(bytes, i) } else { i };
    let mut name = None;
    let mut after_comma = false;
    let mut i = open + 1;
    loop {
        i = skip(i);
        let at = i;
        let (label, quoted) = match bytes.get(i) {
            Some(b'}') => {
                if after_comma && !lenient {
                    return Err(Fail::new(i - 1, "comma before '}'"));
                }
                break;
            }
            Some(b'"') => {
                let quoted = scan_quoted(bytes, i)?;
                i = quoted.after();
                (&text[quoted.start..quoted.end], Some(quoted))
            }
            Some(&c) if CLASSES[usize::from(c)] & LABEL_START != 0 => {
                i = label_name_end(bytes, i);
                (&text[at..i], None)
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
        } else {
            if quoted.is_some_and(|q| q.escaped) {
                return Err(Fail::new(
                    at,
                    "escape sequences in quoted label names are not supported",
                ));
            }
            if label.is_empty() {
                return Err(Fail::new(at, "empty label name"));
            }
            if label == "__name__" {
                return Err(Fail::new(
                    at,
                    "label __name__ is reserved: write the metric name before the braces, or quoted inside them",
                ));
            }
            if bytes.get(i) != Some(&b'=') {
                return Err(Fail::new(i, format!("expected '=' after label {label}")));
            }
            i = skip(i + 1);
            if bytes.get(i) != Some(&b'"') {
                return Err(Fail::new(
                    i,
                    format!("expected '\"' to open the value of label {label}"),
                ));
            }
            let value = scan_quoted(bytes, i)?;
            labels.push(LabelSpan {
                name: label,
                value: &text[value.start..value.end],
                escaped: value.escaped,
                at,
            });
            i = value.after();
            if labels.len() - first <= LINEAR_DUPLICATE_CHECK
                && labels[first..labels.len() - 1]
                    .iter()
                    .any(|earlier| earlier.name == label)
            {
                return Err(Fail::new(at, format!("duplicate label {label}")));
            }
        }
        i = skip(i);
        after_comma = false;
        match bytes.get(i) {
            Some(b',') => {
                after_comma = true;
                i += 1;
            }
            Some(b'}') => {}
            _ if lenient => {}
            _ => return Err(Fail::new(i, "expected ',' or '}' after a label")),
        }
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
    })
}

/// The duplicate check for large label sets: O(n log n) whatever the input.
fn check_duplicates_sorted(labels: &[LabelSpan<'_>]) -> Result<(), Fail> {
    let mut sorted: Vec<&LabelSpan<'_>> = labels.iter().collect();
    sorted.sort_unstable_by(|a, b| a.name.cmp(b.name).then(a.at.cmp(&b.at)));
    match sorted.windows(2).find(|pair| pair[0].name == pair[1].name) {
        Some(pair) => Err(Fail::new(
            pair[1].at,
            format!("duplicate label {}", pair[1].name),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(text: &str, style: Style) -> Result<(usize, Vec<(String, String)>), String> {
        let mut labels = Vec::new();
        scan_label_set(text, 0, style, true, &mut labels)
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
        assert!(error.starts_with("duplicate label l42"), "{error}");
    }
}
