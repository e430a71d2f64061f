//! Label sets that borrow the input and are decoded only when read.

use std::borrow::Cow;
use std::fmt;

use crate::scan::{find_byte, label_name_end, quote_stop, skip_blanks, unescape};

/// The labels of a sample or an exemplar, as a view of the input.
///
/// Nothing is copied or decoded while parsing: the parser has checked the text between
/// the braces, and [`Labels::iter`] reads it again when asked, unescaping a value only
/// when it holds escapes. A sample's quoted metric name, when written inside the braces
/// (`{"my.metric",a="b"}`), is not a label and is skipped.
///
/// Two label sets are equal when they hold the same labels in the same order, however
/// they are spelled (`{a="1"}` and `{ a = "1", }` are equal).
#[derive(Clone, Copy)]
pub struct Labels<'a> {
    raw: &'a str,
    count: usize,
    /// Spelled `name="value",...` exactly, which [`LabelsIter`] reads faster.
    plain: bool,
}

impl<'a> Labels<'a> {
    /// No labels.
    pub(crate) const EMPTY: Labels<'static> = Labels {
        raw: "",
        count: 0,
        plain: true,
    };

    /// A view of `raw`, the checked text between the braces, which holds `count` labels
    /// and is `plain` when spelled `name="value",...` exactly (no blanks, no quoted
    /// names, no escapes, no trailing comma).
    pub(crate) fn new(raw: &'a str, count: usize, plain: bool) -> Labels<'a> {
        Labels { raw, count, plain }
    }

    /// The number of labels.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether there are no labels.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The labels in the order written, as (name, value) with the value unescaped.
    pub fn iter(&self) -> LabelsIter<'a> {
        LabelsIter {
            raw: self.raw,
            pos: 0,
            plain: self.plain,
        }
    }

    /// The value of the label called `name`, unescaped.
    pub fn get(&self, name: &str) -> Option<Cow<'a, str>> {
        self.iter()
            .find(|(label, _)| *label == name)
            .map(|(_, value)| value)
    }
}

impl PartialEq for Labels<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.count == other.count && self.iter().eq(other.iter())
    }
}

impl Eq for Labels<'_> {}

impl fmt::Debug for Labels<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<'a> IntoIterator for &Labels<'a> {
    type Item = (&'a str, Cow<'a, str>);
    type IntoIter = LabelsIter<'a>;

    fn into_iter(self) -> LabelsIter<'a> {
        self.iter()
    }
}

/// Iterator over [`Labels`]; see [`Labels::iter`].
#[derive(Debug, Clone)]
pub struct LabelsIter<'a> {
    /// The whole text between the braces.
    raw: &'a str,
    /// Where the next label starts.
    pos: usize,
    plain: bool,
}

impl<'a> LabelsIter<'a> {
    /// The label at `self.pos` or after it; `None` at the end. The text has been
    /// checked by the parser, so this only needs to find the boundaries, and stops at
    /// anything it does not expect.
    fn next_label(&mut self) -> Option<(&'a str, Cow<'a, str>)> {
        let bytes = self.raw.as_bytes();
        if self.plain {
            // `name="value"` then a comma or the end: two searches.
            let start = self.pos;
            if start >= bytes.len() {
                return None;
            }
            let equals = find_byte(bytes, start, b'=');
            let close = find_byte(bytes, equals + 2, b'"');
            self.pos = close + 2;
            let name = self.raw.get(start..equals)?;
            let value = self.raw.get(equals + 2..close)?;
            return Some((name, Cow::Borrowed(value)));
        }
        let mut i = self.pos;
        loop {
            while i < bytes.len() && matches!(bytes[i], b' ' | b'\t' | b',') {
                i += 1;
            }
            let name = if *bytes.get(i)? == b'"' {
                let (end, _) = quoted_end(bytes, i + 1)?;
                let name = self.raw.get(i + 1..end)?;
                i = end + 1;
                name
            } else {
                let start = i;
                i = label_name_end(bytes, i);
                if i == start {
                    return None;
                }
                self.raw.get(start..i)?
            };
            i = skip_blanks(bytes, i);
            if bytes.get(i) != Some(&b'=') {
                // A quoted metric name, not a label.
                continue;
            }
            i = skip_blanks(bytes, i + 1);
            if bytes.get(i) != Some(&b'"') {
                return None;
            }
            let (end, escaped) = quoted_end(bytes, i + 1)?;
            let value = self.raw.get(i + 1..end)?;
            self.pos = end + 1;
            let value = if escaped {
                unescape(value, true)
            } else {
                Cow::Borrowed(value)
            };
            return Some((name, value));
        }
    }
}

/// The closing quote of the quoted string whose content starts at `from`, and whether
/// the content holds escapes.
#[inline(always)]
fn quoted_end(bytes: &[u8], from: usize) -> Option<(usize, bool)> {
    let mut i = from;
    let mut escaped = false;
    loop {
        i = quote_stop(bytes, i);
        match bytes.get(i)? {
            b'"' => return Some((i, escaped)),
            b'\\' => {
                escaped = true;
                i += 2;
            }
            _ => return None,
        }
    }
}

impl<'a> Iterator for LabelsIter<'a> {
    type Item = (&'a str, Cow<'a, str>);

    fn next(&mut self) -> Option<Self::Item> {
        let label = self.next_label();
        if label.is_none() {
            // Only checked text reaches here, so this ends the labels; stopping for good
            // keeps anything else from being read as more labels.
            self.pos = self.raw.len();
        }
        label
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(raw: &str) -> Vec<(String, String)> {
        Labels::new(raw, 0, false)
            .iter()
            .map(|(n, v)| (n.to_owned(), v.into_owned()))
            .collect()
    }

    #[test]
    fn iterates_in_order_and_unescapes() {
        assert_eq!(
            pairs(r#"a="1",b="x\"y\\z\n",c="""#),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x\"y\\z\n".into()),
                ("c".into(), "".into())
            ]
        );
    }

    #[test]
    fn skips_a_quoted_metric_name_and_reads_quoted_label_names() {
        assert_eq!(
            pairs(r#""my.metric","my.label"="v",b="w""#),
            vec![("my.label".into(), "v".into()), ("b".into(), "w".into())]
        );
        assert_eq!(
            pairs(r#"a="v","my\"metric""#),
            vec![("a".into(), "v".into())]
        );
    }

    #[test]
    fn reads_the_lenient_prometheus_spelling() {
        assert_eq!(
            pairs(" a = \"1\" ,\tb=\"2\" c=\"3\", "),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "2".into()),
                ("c".into(), "3".into())
            ]
        );
    }

    #[test]
    fn get_finds_by_name_and_values_borrow_when_they_can() {
        let labels = Labels::new(r#"le="+Inf",path="a\\b""#, 2, false);
        assert!(matches!(labels.get("le"), Some(Cow::Borrowed("+Inf"))));
        assert_eq!(labels.get("path").as_deref(), Some("a\\b"));
        assert_eq!(labels.get("missing"), None);
        assert_eq!(format!("{labels:?}"), r#"{"le": "+Inf", "path": "a\\b"}"#);
    }

    #[test]
    fn equality_is_by_content() {
        let plain = Labels::new(r#"a="1",b="x\"y""#, 2, false);
        let spaced = Labels::new(r#" a = "1" , b="x\"y" ,"#, 2, false);
        assert_eq!(plain, spaced);
        assert_ne!(plain, Labels::new(r#"a="1""#, 1, true));
        assert_ne!(plain, Labels::new(r#"b="x\"y",a="1""#, 2, false));
    }

    #[test]
    fn the_plain_reading_agrees_with_the_general_one() {
        for raw in [
            "",
            r#"a="1""#,
            r#"a="1",bb="""#,
            r#"le="+Inf",path="/a,b={c}",x="é€""#,
        ] {
            let fast: Vec<_> = Labels::new(raw, 0, true).iter().collect();
            let general: Vec<_> = Labels::new(raw, 0, false).iter().collect();
            assert_eq!(fast, general, "{raw}");
        }
    }

    #[test]
    fn never_panics_on_unchecked_text() {
        for raw in [
            "\"",
            "a",
            "a=",
            "a=\"",
            "a=\"\\",
            "=\"x\"",
            "\"\\",
            "a=\"x\"\"",
            "é=\"x\"",
        ] {
            let _ = Labels::new(raw, 0, false).iter().count();
        }
    }
}
