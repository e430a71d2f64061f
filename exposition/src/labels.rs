//! Label sets that borrow the input and are decoded only when read.

use std::borrow::Cow;
use std::fmt;

use crate::scan::unescape;

/// The labels of a sample or an exemplar, as a view of the input.
///
/// Nothing is copied or decoded while parsing: the parser has checked the text between
/// the braces, and [`Labels::iter`] reads it again when asked, unescaping a value only
/// when it holds escapes. A sample's quoted metric name, when written inside the braces
/// (`{"my.metric",a="b"}`), is not a label and is skipped.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Labels<'a> {
    raw: &'a str,
    count: usize,
}

impl<'a> Labels<'a> {
    /// No labels.
    pub(crate) const EMPTY: Labels<'static> = Labels { raw: "", count: 0 };

    /// A view of `raw`, the checked text between the braces, which holds `count` labels.
    pub(crate) fn new(raw: &'a str, count: usize) -> Labels<'a> {
        Labels { raw, count }
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
            rest: self.raw.as_bytes(),
            raw: self.raw,
        }
    }

    /// The value of the label called `name`, unescaped.
    pub fn get(&self, name: &str) -> Option<Cow<'a, str>> {
        self.iter()
            .find(|(label, _)| *label == name)
            .map(|(_, value)| value)
    }
}

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
    /// The whole text between the braces, to slice names and values from.
    raw: &'a str,
    /// The part not read yet, always a suffix of `raw`.
    rest: &'a [u8],
}

impl<'a> LabelsIter<'a> {
    fn offset(&self) -> usize {
        self.raw.len() - self.rest.len()
    }

    /// Reads a quoted string at the start of `rest` (which starts with `"`): its content
    /// and whether it holds escapes; leaves `rest` after the closing quote.
    fn quoted(&mut self) -> Option<(&'a str, bool)> {
        let start = self.offset() + 1;
        let mut i = 1;
        let mut escaped = false;
        loop {
            match self.rest.get(i)? {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    i += 2;
                }
                _ => i += 1,
            }
        }
        self.rest = &self.rest[i + 1..];
        Some((self.raw.get(start..start + i - 1)?, escaped))
    }

    fn skip(&mut self, separators: &[u8]) {
        let n = self
            .rest
            .iter()
            .position(|c| !separators.contains(c))
            .unwrap_or(self.rest.len());
        self.rest = &self.rest[n..];
    }

    fn next_label(&mut self) -> Option<(&'a str, Cow<'a, str>)> {
        loop {
            self.skip(b" \t,");
            let name = match self.rest.first()? {
                b'"' => self.quoted()?.0,
                _ => {
                    let start = self.offset();
                    let n = self
                        .rest
                        .iter()
                        .position(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
                        .unwrap_or(self.rest.len());
                    if n == 0 {
                        return None;
                    }
                    self.rest = &self.rest[n..];
                    self.raw.get(start..start + n)?
                }
            };
            self.skip(b" \t");
            if self.rest.first() != Some(&b'=') {
                // A quoted metric name, not a label.
                continue;
            }
            self.rest = &self.rest[1..];
            self.skip(b" \t");
            if self.rest.first() != Some(&b'"') {
                return None;
            }
            let (value, escaped) = self.quoted()?;
            let value = if escaped {
                unescape(value, true)
            } else {
                Cow::Borrowed(value)
            };
            return Some((name, value));
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
            self.rest = &[];
        }
        label
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(raw: &str) -> Vec<(String, String)> {
        Labels::new(raw, 0)
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
        let labels = Labels::new(r#"le="+Inf",path="a\\b""#, 2);
        assert!(matches!(labels.get("le"), Some(Cow::Borrowed("+Inf"))));
        assert_eq!(labels.get("path").as_deref(), Some("a\\b"));
        assert_eq!(labels.get("missing"), None);
        assert_eq!(format!("{labels:?}"), r#"{"le": "+Inf", "path": "a\\b"}"#);
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
            let _ = Labels::new(raw, 0).iter().count();
        }
    }
}
