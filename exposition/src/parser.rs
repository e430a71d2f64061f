//! The line parser: turns an exposition into [`Entry`] values, one line at a time.

use std::borrow::Cow;

use crate::entry::{Entry, Exemplar, Sample};
use crate::error::{Fail, ParseError};
use crate::format::{in_prometheus_family, Format, MetricType};
use crate::labels::Labels;
use crate::number::{parse_millis, parse_seconds, parse_value};
use crate::openmetrics::{Metadata, OpenMetrics, SampleFacts};
use crate::scan::{
    is_blank, is_metric_char, is_metric_start, line_end, metric_name_end, scan_label_set,
    scan_quoted, skip_blanks, unescape, LabelSet, LabelSpan, Previous, Style,
};

/// The most characters (Unicode scalar values) that the names and values of an
/// exemplar's labels may hold together, per OpenMetrics 1.0.
pub const EXEMPLAR_LABELS_MAX_CHARS: usize = 128;

/// Reads an exposition as an iterator of [`Entry`] values that borrow from the input.
///
/// Each call to `next` reads one line (skipping Prometheus comments and blank lines).
/// Nothing is allocated per sample unless a value holds escapes; OpenMetrics validation
/// keeps some state per metric family. The first malformed line yields an `Err`, after
/// which the iterator ends.
///
/// **An exposition is valid only as a whole.** Entries before an error have been
/// yielded already, and some OpenMetrics rules can only be checked once a family or a
/// histogram's data point is complete (its `+Inf` bucket, its `_count`), so an error may
/// follow the samples it is about. A consumer must treat the exposition as invalid, and
/// discard what it read from it, as soon as any `Err` appears; [`crate::validate`] does
/// exactly that when only the verdict is needed.
///
/// The input is bytes because that is what arrives over HTTP; bytes that are not UTF-8
/// are an error at their position, reported once the lines before them are parsed.
#[derive(Debug)]
pub struct Parser<'a> {
    input: &'a [u8],
    /// The input up to the line holding its first invalid UTF-8 byte (all of it when it
    /// is valid).
    text: &'a str,
    invalid_utf8_at: Option<usize>,
    format: Format,
    pos: usize,
    /// The line that `pos` is on, from 1, and the offset of its start.
    line: usize,
    line_start: usize,
    finished: bool,
    /// The labels of the current line (a sample's, then its exemplar's); reused from one
    /// line to the next so that parsing allocates nothing per sample.
    labels: Vec<LabelSpan<'a>>,
    /// The label set of the latest sample, whose labels start `labels`; see [`Previous`].
    previous_labels: Option<Previous>,
    /// The latest bare metric name read (see [`Parser::bare_name_end`]).
    previous_name: (usize, usize),
    /// Prometheus text: the family and type of the latest `# TYPE` line.
    prometheus_type: Option<(&'a str, MetricType)>,
    openmetrics: OpenMetrics<'a>,
}

#[derive(Debug, Clone, Copy)]
enum Keyword {
    Help,
    Type,
    Unit,
}

impl<'a> Parser<'a> {
    /// A parser of `input`, read as `format`. Checks that the input is UTF-8 first, in
    /// one fast pass, so that lines can be sliced as text without checking each one.
    pub fn new(input: &'a [u8], format: Format) -> Parser<'a> {
        let (text, invalid_utf8_at) = match std::str::from_utf8(input) {
            Ok(text) => (text, None),
            Err(error) => {
                let bad = error.valid_up_to();
                let cut = input[..bad]
                    .iter()
                    .rposition(|&c| c == b'\n')
                    .map_or(0, |newline| newline + 1);
                // Everything before `bad` is UTF-8, so this cannot fail.
                let text = std::str::from_utf8(&input[..cut]).unwrap_or_default();
                (text, Some(bad))
            }
        };
        Parser {
            input,
            text,
            invalid_utf8_at,
            format,
            pos: 0,
            line: 1,
            line_start: 0,
            finished: false,
            labels: Vec::new(),
            previous_labels: None,
            previous_name: (0, 0),
            prometheus_type: None,
            openmetrics: OpenMetrics::new(),
        }
    }

    fn error(&self, fail: Fail) -> ParseError {
        let (line, line_start) = fail.line.unwrap_or((self.line, self.line_start));
        let at = fail.at.clamp(line_start, self.input.len());
        // Count characters: every byte that does not continue a UTF-8 sequence.
        let column = self.input[line_start..at]
            .iter()
            .filter(|&&c| (c as i8) >= -0x40)
            .count()
            + 1;
        ParseError {
            line,
            column,
            message: fail.message,
        }
    }

    /// Moves past the line that ends at `end`: its line feed, or the end of the text.
    fn end_line(&mut self, end: usize) {
        if end < self.text.len() {
            self.pos = end + 1;
            self.line += 1;
            self.line_start = end + 1;
        } else {
            self.pos = end;
        }
    }

    /// At the end of the text: the end of the input, or invalid UTF-8.
    fn end_of_text(&mut self) -> Result<(), Fail> {
        self.pos = self.text.len();
        match self.invalid_utf8_at {
            Some(at) => Err(Fail::new(at, "invalid UTF-8")),
            None => Ok(()),
        }
    }

    /// The metric name of a `# HELP`, `# TYPE` or `# UNIT` line, at `at`, and the offset
    /// after it.
    fn metadata_name(&mut self, at: usize) -> Result<(&'a str, usize), Fail> {
        let text = self.text;
        let bytes = text.as_bytes();
        match bytes.get(at) {
            Some(b'"') => {
                let quoted = scan_quoted(bytes, at)?;
                if quoted.escaped {
                    return Err(Fail::new(
                        at,
                        "escape sequences in quoted metric names are not supported in metadata",
                    ));
                }
                if quoted.start == quoted.end {
                    return Err(Fail::new(at, "empty metric name"));
                }
                Ok((&text[quoted.start..quoted.end], quoted.after()))
            }
            Some(&c) if is_metric_start(c) => {
                let end = self.bare_name_end(at);
                Ok((&text[at..end], end))
            }
            _ => Err(Fail::new(
                at,
                "expected a metric name ([a-zA-Z_:][a-zA-Z0-9_:]* or quoted)",
            )),
        }
    }

    /// The end of the bare metric name starting at `start`. Consecutive lines often
    /// name the same metric (`# HELP`, `# TYPE`, then its samples), so the name of the
    /// line before is tried first: comparing is faster than scanning.
    fn bare_name_end(&mut self, start: usize) -> usize {
        let bytes = self.text.as_bytes();
        let (previous_start, previous_end) = self.previous_name;
        let repeated = &bytes[previous_start..previous_end];
        let end = start + repeated.len();
        let end = if bytes.get(start..end) == Some(repeated)
            && !bytes.get(end).copied().is_some_and(is_metric_char)
        {
            end
        } else {
            metric_name_end(bytes, start)
        };
        self.previous_name = (start, end);
        end
    }

    /// The metric name that starts a sample line, if it is written before the braces,
    /// and the offset after it.
    fn sample_name(&mut self, start: usize) -> Result<(Option<Cow<'a, str>>, usize), Fail> {
        let bytes = self.text.as_bytes();
        match bytes.get(start) {
            Some(&c) if is_metric_start(c) => {
                let end = self.bare_name_end(start);
                Ok((Some(Cow::Borrowed(&self.text[start..end])), end))
            }
            Some(b'{') => Ok((None, start)),
            _ => Err(Fail::new(
                start,
                "expected a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*), '{' or '#'",
            )),
        }
    }

    /// Scans a sample's label set into `self.labels`, taking the metric name from it when
    /// it is quoted inside.
    fn label_set(
        &mut self,
        open: usize,
        style: Style,
        name: &mut Option<Cow<'a, str>>,
    ) -> Result<LabelSet<'a>, Fail> {
        let previous = self.previous_labels.take();
        if previous.is_none() {
            self.labels.clear();
        }
        let set = scan_label_set(self.text, open, style, true, previous, &mut self.labels)?;
        if let Some(quoted) = set.name {
            if name.is_some() {
                return Err(Fail::new(
                    quoted.start - 1,
                    "metric name given twice, before the braces and inside them",
                ));
            }
            let raw = &self.text[quoted.start..quoted.end];
            *name = Some(if quoted.escaped {
                Cow::Owned(unescape(raw, true).into_owned())
            } else {
                Cow::Borrowed(raw)
            });
        } else {
            // A quoted name is not kept with the labels, so a set that has one is not
            // reused (see `Previous`).
            self.previous_labels = Some(Previous {
                open,
                count: set.count,
                plain: set.plain,
            });
        }
        Ok(set)
    }

    fn next_prometheus(&mut self) -> Result<Option<Entry<'a>>, Fail> {
        let bytes = self.text.as_bytes();
        loop {
            let i = skip_blanks(bytes, self.pos);
            match bytes.get(i) {
                None => {
                    self.end_of_text()?;
                    return Ok(None);
                }
                Some(b'\n') => self.end_line(i),
                Some(b'#') => {
                    if let Some(entry) = self.prometheus_comment(i)? {
                        return Ok(Some(entry));
                    }
                }
                Some(_) => return self.prometheus_sample(i).map(Some),
            }
        }
    }

    /// A line starting with `#`: `# HELP` and `# TYPE` (after any blanks), or a comment,
    /// which is skipped. As in Prometheus, `# HELP` needs a blank after it to count.
    fn prometheus_comment(&mut self, hash: usize) -> Result<Option<Entry<'a>>, Fail> {
        let bytes = self.text.as_bytes();
        if bytes.get(hash + 1).copied().is_some_and(is_blank) {
            let keyword = skip_blanks(bytes, hash + 1);
            let word = bytes.get(keyword..keyword + 4);
            let is_help = word == Some(b"HELP");
            if (is_help || word == Some(b"TYPE"))
                && bytes.get(keyword + 4).copied().is_some_and(is_blank)
            {
                let name_at = skip_blanks(bytes, keyword + 4);
                return self.prometheus_metadata(is_help, name_at).map(Some);
            }
        }
        self.end_line(line_end(bytes, hash));
        Ok(None)
    }

    fn prometheus_metadata(&mut self, is_help: bool, name_at: usize) -> Result<Entry<'a>, Fail> {
        let (family, after) = self.metadata_name(name_at)?;
        let end = line_end(self.text.as_bytes(), after);
        let rest = &self.text[after..end];
        // Prometheus takes the rest of the line less its first character, a blank.
        let body = match rest.as_bytes().first() {
            None => "",
            Some(&c) if is_blank(c) => &rest[1..],
            Some(_) => return Err(Fail::new(after, "expected a space after the metric name")),
        };
        let entry = if is_help {
            Entry::Help {
                family,
                text: unescape(body, false),
            }
        } else {
            let kind = MetricType::from_prometheus(body).ok_or_else(|| {
                Fail::new(
                    end.min(after + 1),
                    format!("unknown metric type {body:?} (expected counter, gauge, histogram, summary or untyped)"),
                )
            })?;
            self.prometheus_type = Some((family, kind));
            Entry::Type { family, kind }
        };
        self.end_line(end);
        Ok(entry)
    }

    fn prometheus_sample(&mut self, start: usize) -> Result<Entry<'a>, Fail> {
        let text = self.text;
        let bytes = text.as_bytes();
        let (mut name, name_end) = self.sample_name(start)?;
        let mut i = skip_blanks(bytes, name_end);
        let mut labels = Labels::EMPTY;
        if bytes.get(i) == Some(&b'{') {
            let set = self.label_set(i, Style::Lenient, &mut name)?;
            labels = Labels::new(set.raw, set.count, set.plain);
            i = skip_blanks(bytes, set.end);
        } else if i == name_end && bytes.get(i).is_some_and(|&c| c != b'\n') {
            // Prometheus would read `a+1` as `a 1`; a value needs a blank before it.
            return Err(after_name(bytes, i, "expected a blank and the value"));
        }
        let name = name.ok_or_else(|| Fail::new(start, "metric name missing"))?;
        let value_at = i;
        while i < bytes.len() && !matches!(bytes[i], b' ' | b'\t' | b'\n' | b'{') {
            i += 1;
        }
        if i == value_at {
            return Err(Fail::new(i, "expected a value"));
        }
        let value = parse_value(&bytes[value_at..i])
            .map_err(|e| Fail::new(value_at, e.describe("value", &text[value_at..i])))?;
        i = skip_blanks(bytes, i);
        let mut timestamp_ms = None;
        if bytes.get(i).is_some_and(|&c| c != b'\n') {
            if bytes[i] == b'#' {
                return Err(Fail::new(
                    i,
                    "expected a timestamp or the end of the line (exemplars need the OpenMetrics format)",
                ));
            }
            let timestamp_at = i;
            while i < bytes.len() && !matches!(bytes[i], b' ' | b'\t' | b'\n') {
                i += 1;
            }
            let token = &bytes[timestamp_at..i];
            timestamp_ms = Some(parse_millis(token).map_err(|e| {
                Fail::new(
                    timestamp_at,
                    e.describe("timestamp (integer milliseconds)", &text[timestamp_at..i]),
                )
            })?);
            i = skip_blanks(bytes, i);
            if bytes.get(i).is_some_and(|&c| c != b'\n') {
                return Err(Fail::new(
                    i,
                    "expected the end of the line after the timestamp",
                ));
            }
        }
        let family_type = match self.prometheus_type {
            Some((family, kind)) if in_prometheus_family(family, kind, &name) => kind,
            _ => MetricType::Unknown,
        };
        self.end_line(i);
        Ok(Entry::Sample(Sample {
            name,
            labels,
            value,
            timestamp_ms,
            family_type,
            exemplar: None,
        }))
    }

    fn next_openmetrics(&mut self) -> Result<Option<Entry<'a>>, Fail> {
        let i = self.pos;
        match self.text.as_bytes().get(i) {
            None => {
                self.end_of_text()?;
                Err(Fail::new(i, "missing # EOF at the end"))
            }
            Some(b'\n') => Err(Fail::new(i, "blank line (OpenMetrics allows none)")),
            Some(b'#') => self.openmetrics_metadata(i),
            Some(_) => self.openmetrics_sample(i).map(Some),
        }
    }

    /// `# HELP`, `# TYPE`, `# UNIT` or `# EOF`: OpenMetrics has no comments.
    fn openmetrics_metadata(&mut self, start: usize) -> Result<Option<Entry<'a>>, Fail> {
        let bytes = self.text.as_bytes();
        let line = &bytes[start..];
        if line.starts_with(b"# EOF") {
            let after = start + 5;
            return match bytes.get(after) {
                Some(b'\n') if after + 1 < self.input.len() => Err(Fail::on_line(
                    self.line + 1,
                    after + 1,
                    "nothing may follow # EOF",
                )),
                None | Some(b'\n') => {
                    self.openmetrics.close()?;
                    self.pos = self.input.len();
                    Ok(None)
                }
                Some(_) => Err(Fail::new(after, "unexpected text after # EOF")),
            };
        }
        let keyword = if line.starts_with(b"# HELP ") {
            Keyword::Help
        } else if line.starts_with(b"# TYPE ") {
            Keyword::Type
        } else if line.starts_with(b"# UNIT ") {
            Keyword::Unit
        } else {
            return Err(Fail::new(
                start,
                "expected # HELP, # TYPE, # UNIT or # EOF (OpenMetrics has no comments)",
            ));
        };
        let (family, after) = self.metadata_name(start + 7)?;
        if bytes.get(after) != Some(&b' ') {
            return Err(Fail::new(after, "expected a space after the metric name"));
        }
        let end = line_end(bytes, after + 1);
        let body = &self.text[after + 1..end];
        let (entry, metadata) = match keyword {
            Keyword::Help => (
                Entry::Help {
                    family,
                    text: unescape(body, true),
                },
                Metadata::Help,
            ),
            Keyword::Type => {
                let kind = MetricType::from_openmetrics(body).ok_or_else(|| {
                    let hint = if body == "untyped" {
                        "OpenMetrics calls it unknown"
                    } else {
                        "expected counter, gauge, histogram, gaugehistogram, summary, stateset, info or unknown"
                    };
                    Fail::new(after + 1, format!("unknown metric type {body:?} ({hint})"))
                })?;
                (Entry::Type { family, kind }, Metadata::Type(kind))
            }
            Keyword::Unit => {
                if let Some(bad) = body.bytes().position(|c| !is_metric_char(c)) {
                    return Err(Fail::new(
                        after + 1 + bad,
                        "a unit is made of [a-zA-Z0-9_:] only",
                    ));
                }
                (Entry::Unit { family, unit: body }, Metadata::Unit(body))
            }
        };
        self.openmetrics
            .metadata(family, metadata, self.line, start)?;
        self.end_line(end);
        Ok(Some(entry))
    }

    fn openmetrics_sample(&mut self, start: usize) -> Result<Entry<'a>, Fail> {
        let text = self.text;
        let bytes = text.as_bytes();
        let (mut name, name_end) = self.sample_name(start)?;
        let mut i = name_end;
        let mut labels = Labels::EMPTY;
        if bytes.get(i) == Some(&b'{') {
            let set = self.label_set(i, Style::Strict, &mut name)?;
            labels = Labels::new(set.raw, set.count, set.plain);
            i = set.end;
        } else {
            self.labels.clear();
            self.previous_labels = None;
        }
        let name = name.ok_or_else(|| Fail::new(start, "metric name missing"))?;
        let sample_labels = self.labels.len();
        if bytes.get(i) != Some(&b' ') {
            let message = "expected a space and the value";
            return Err(if i == name_end && name_end > start {
                after_name(bytes, i, message)
            } else {
                Fail::new(i, message)
            });
        }
        let value_at = i + 1;
        i = token_end(bytes, value_at);
        if i == value_at {
            return Err(Fail::new(i, "expected a value after one space"));
        }
        let value = parse_value(&bytes[value_at..i])
            .map_err(|e| Fail::new(value_at, e.describe("value", &text[value_at..i])))?;
        let mut timestamp = None;
        let mut exemplar = None;
        let mut exemplar_at = i;
        if bytes.get(i) == Some(&b' ') {
            i += 1;
            if bytes.get(i) != Some(&b'#') {
                let timestamp_at = i;
                i = token_end(bytes, i);
                timestamp = Some(self.openmetrics_timestamp(timestamp_at, i)?);
                if bytes.get(i) == Some(&b' ') {
                    i += 1;
                    if bytes.get(i) != Some(&b'#') {
                        return Err(Fail::new(
                            i,
                            "expected '#' and an exemplar, or the end of the line",
                        ));
                    }
                }
            }
            if bytes.get(i) == Some(&b'#') {
                exemplar_at = i;
                let (parsed, end) = self.openmetrics_exemplar(i)?;
                exemplar = Some(parsed);
                i = end;
            }
        }
        if bytes.get(i).is_some_and(|&c| c != b'\n') {
            return Err(Fail::new(i, "expected the end of the line"));
        }
        let family_type = self.openmetrics.sample(&mut SampleFacts {
            name: &name,
            labels: &mut self.labels[..sample_labels],
            value,
            value_at,
            timestamp: timestamp.map(|(seconds, _)| seconds),
            has_exemplar: exemplar.is_some(),
            exemplar_at,
            line: self.line,
            line_start: self.line_start,
        })?;
        self.end_line(i);
        Ok(Entry::Sample(Sample {
            name,
            labels,
            value,
            timestamp_ms: timestamp.map(|(_, millis)| millis),
            family_type,
            exemplar,
        }))
    }

    /// An OpenMetrics timestamp spanning `start..end`: seconds, and milliseconds.
    fn openmetrics_timestamp(&self, start: usize, end: usize) -> Result<(f64, i64), Fail> {
        if start == end {
            return Err(Fail::new(start, "expected a timestamp after the space"));
        }
        parse_seconds(&self.text.as_bytes()[start..end]).map_err(|e| {
            Fail::new(
                start,
                e.describe("timestamp (seconds)", &self.text[start..end]),
            )
        })
    }

    /// ` # {labels} value [timestamp]`, from the `#` at `hash`; returns the offset after.
    fn openmetrics_exemplar(&mut self, hash: usize) -> Result<(Exemplar<'a>, usize), Fail> {
        let text = self.text;
        let bytes = text.as_bytes();
        if bytes.get(hash + 1) != Some(&b' ') {
            return Err(Fail::new(hash + 1, "expected a space after '#'"));
        }
        let open = hash + 2;
        if bytes.get(open) != Some(&b'{') {
            return Err(Fail::new(
                open,
                "expected '{' to open the exemplar's labels",
            ));
        }
        let first = self.labels.len();
        let set = scan_label_set(text, open, Style::Strict, false, None, &mut self.labels)?;
        let chars: usize = self.labels[first..]
            .iter()
            .map(|label| label.name.chars().count() + label.unescaped().chars().count())
            .sum();
        if chars > EXEMPLAR_LABELS_MAX_CHARS {
            return Err(Fail::new(
                open,
                format!("exemplar labels hold {chars} characters, more than the {EXEMPLAR_LABELS_MAX_CHARS} allowed"),
            ));
        }
        let mut i = set.end;
        if bytes.get(i) != Some(&b' ') {
            return Err(Fail::new(i, "expected a space and the exemplar's value"));
        }
        let value_at = i + 1;
        i = token_end(bytes, value_at);
        if i == value_at {
            return Err(Fail::new(
                i,
                "expected the exemplar's value after one space",
            ));
        }
        let value = parse_value(&bytes[value_at..i])
            .map_err(|e| Fail::new(value_at, e.describe("exemplar value", &text[value_at..i])))?;
        let mut timestamp_ms = None;
        if bytes.get(i) == Some(&b' ') {
            let timestamp_at = i + 1;
            i = token_end(bytes, timestamp_at);
            timestamp_ms = Some(self.openmetrics_timestamp(timestamp_at, i)?.1);
        }
        Ok((
            Exemplar {
                labels: Labels::new(set.raw, set.count, set.plain),
                value,
                timestamp_ms,
            },
            i,
        ))
    }
}

/// The error for what follows a sample's name and labels when it is not the value: a
/// character that names may not hold gets a message of its own.
fn after_name(bytes: &[u8], at: usize, otherwise: &str) -> Fail {
    match bytes.get(at) {
        Some(&c) if c.is_ascii_graphic() && !matches!(c, b'{' | b'}' | b'"' | b'#') => {
            let c = char::from(c);
            Fail::new(
                at,
                format!("{c:?} is not allowed in a metric name (a name with other characters is quoted inside the braces: {{\"my.name\"}})"),
            )
        }
        _ => Fail::new(at, otherwise),
    }
}

/// The end of the token starting at `from`: the next space or line feed.
#[inline]
fn token_end(bytes: &[u8], from: usize) -> usize {
    let mut i = from;
    while i < bytes.len() && bytes[i] != b' ' && bytes[i] != b'\n' {
        i += 1;
    }
    i
}

impl<'a> Iterator for Parser<'a> {
    type Item = Result<Entry<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        let next = match self.format {
            Format::Prometheus => self.next_prometheus(),
            Format::OpenMetrics => self.next_openmetrics(),
        };
        match next {
            Ok(Some(entry)) => Some(Ok(entry)),
            Ok(None) => {
                self.finished = true;
                None
            }
            Err(fail) => {
                self.finished = true;
                Some(Err(self.error(fail)))
            }
        }
    }
}

impl std::iter::FusedIterator for Parser<'_> {}

/// Reads the whole exposition and returns its number of samples, or the first error.
/// This is the verdict a scrape needs: any error makes the whole exposition invalid.
pub fn validate(input: &[u8], format: Format) -> Result<usize, ParseError> {
    let mut samples = 0;
    for entry in Parser::new(input, format) {
        if let Entry::Sample(_) = entry? {
            samples += 1;
        }
    }
    Ok(samples)
}
