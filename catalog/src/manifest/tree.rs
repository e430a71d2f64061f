//! YAML text to a tree of nodes that remember where they were written.
//!
//! Built from the event stream of `granit-parser` (the parser under serde-saphyr, which
//! re-exports it) rather than through serde, because validation needs what serde throws
//! away: the raw text of every scalar (`1.10` must stay `1.10`, not become the float
//! `1.1`), the position of every key and value, and the index of every document in the
//! stream, empty ones included.
//!
//! Every resource an input can make us spend is bounded here: nesting depth, number of
//! documents, and the nodes that aliases copy (the "billion laughs" attack). A breach stops
//! the input with an error; documents completed before it are kept.

use std::collections::HashMap;

use serde_saphyr::granit_parser::{ErrorKind, Event, Marker, Parser, ScalarStyle, Span, Tag};

/// Most nodes that anchors (`&name`, kept for later aliases) and aliases (`*name`) may
/// copy in one input. Real catalog files copy a handful; an alias bomb needs millions, and
/// so does anchoring one large list at every level of nesting. (Merge keys move what
/// their alias copied.)
pub const COPY_BUDGET: usize = 100_000;

/// Bytes of scalar text that weigh as much as one node in [`COPY_BUDGET`]: aliases copy
/// at most about 6 MB of text in all.
const SCALAR_BYTES_PER_NODE: usize = 64;

/// A 1-based line and column in the file, counted in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

impl Pos {
    fn from_marker(marker: &Marker) -> Self {
        Pos {
            line: marker.line(),
            column: marker.col() + 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub pos: Pos,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Scalar(Scalar),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

/// A scalar as written, with the type YAML 1.2's core schema gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Scalar {
    pub text: String,
    pub kind: ScalarKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarKind {
    Null,
    Bool,
    Number,
    String,
}

/// One `key: value` pair; keys are scalars, kept as text.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_pos: Pos,
    pub value: Node,
}

impl Node {
    /// Describes the node's type for messages: `a mapping`, `boolean true`, ...
    pub fn describe(&self) -> String {
        match &self.value {
            Value::Map(_) => "a mapping".to_owned(),
            Value::Seq(_) => "a list".to_owned(),
            Value::Scalar(s) => match s.kind {
                ScalarKind::Null => "null".to_owned(),
                ScalarKind::Bool => format!("boolean {}", s.text),
                ScalarKind::Number => format!("number {}", s.text),
                ScalarKind::String => format!("{:?}", truncate(&s.text, 80)),
            },
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar(s) if s.kind == ScalarKind::Null)
    }
}

pub(crate) use crate::validate::truncate;

/// One non-empty document of a YAML stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// 1-based position in the stream, counting empty documents too.
    pub index: usize,
    pub root: Node,
}

/// Why an input could not be read completely.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    #[error("invalid YAML: {0}")]
    Syntax(String),
    #[error("nesting is deeper than {max} levels; at most {max} are allowed")]
    TooDeep { max: usize },
    #[error("the input has more than {max} documents; at most {max} are allowed")]
    TooManyDocuments { max: usize },
    #[error(
        "anchors and aliases copy more than {COPY_BUDGET} nodes; \
         the input looks like an alias bomb and is rejected"
    )]
    AliasBomb,
    #[error("alias refers to a node that contains it; recursive structures are not allowed")]
    RecursiveAlias,
    #[error("mapping keys must be strings, found {found}")]
    ComplexKey { found: String },
    #[error("duplicate key {key:?}, first written at line {first_line}; keys must be unique")]
    DuplicateKey { key: String, first_line: usize },
    #[error("merge key \"<<\" expects a mapping or a list of mappings, found {found}")]
    BadMerge { found: String },
}

/// A problem found while building the tree: where, in which document, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based document index (errors before the first document count as in it).
    pub document: usize,
    pub pos: Pos,
    /// Field path, when the builder knows it (duplicate keys); empty otherwise.
    pub path: String,
    pub error: TreeError,
}

/// The documents that were read, and the problems found; a fatal problem is always last.
#[derive(Debug, Default)]
pub struct Parsed {
    pub documents: Vec<Document>,
    pub problems: Vec<Problem>,
}

/// Parses every document of `text`.
pub fn parse(text: &str, max_depth: usize, max_documents: usize) -> Parsed {
    let options = serde_saphyr::granit_parser::options! {
        emit_comments: false,
        // Let our own depth check speak first; the parser's limits are a backstop.
        block_nesting_limit: max_depth.saturating_add(2),
        flow_nesting_limit: max_depth.saturating_add(2),
    };
    let mut builder = Builder {
        max_depth,
        max_documents,
        out: Parsed::default(),
        stack: Vec::new(),
        anchors: HashMap::new(),
        copied_nodes: 0,
        document: 0,
    };
    for item in Parser::new_from_str_with_options(text, options) {
        let step = match item {
            Ok((event, span)) => builder.event(event, span),
            Err(err) => {
                let error = match err.kind() {
                    // The scanner looks ahead, so its own limit may trip before ours.
                    ErrorKind::RecursionLimitExceeded => TreeError::TooDeep { max: max_depth },
                    _ => TreeError::Syntax(err.info()),
                };
                Err(locate_mistake(text, Pos::from_marker(err.marker()), error))
            }
        };
        if let Err((pos, error)) = step {
            // Errors before the first document starts are in the first document.
            let document = builder.document.max(1);
            builder.out.problems.push(Problem {
                document,
                pos,
                path: String::new(),
                error,
            });
            break;
        }
    }
    let mut out = builder.out;
    for doc in &out.documents {
        find_duplicate_keys(&doc.root, doc.index, &mut Vec::new(), &mut out.problems);
    }
    out
}

/// Moves a syntax error from where the parser noticed it to where the mistake is: a tab
/// to the tab itself (the scanner reports the end of the token before it), a bracket or
/// brace never closed to the line that opened it (the parser only notices lines later).
fn locate_mistake(text: &str, noticed: Pos, error: TreeError) -> (Pos, TreeError) {
    let TreeError::Syntax(info) = &error else {
        return (noticed, error);
    };
    if info.contains("tab") {
        if let Some(tab) = first_tab_from(text, noticed) {
            return (tab, error);
        }
    }
    if let Some(opener) = unclosed_flow_opener(text, noticed) {
        if opener.0.line < noticed.line {
            let message = format!(
                "this '{}' is never closed (the parser stopped at line {}: {info})",
                opener.1, noticed.line
            );
            return (opener.0, TreeError::Syntax(message));
        }
    }
    (noticed, error)
}

/// The first tab at or after `from` that starts a line's indentation or follows it.
fn first_tab_from(text: &str, from: Pos) -> Option<Pos> {
    for (index, line) in text.lines().enumerate().skip(from.line.saturating_sub(1)) {
        let number = index + 1;
        let start = if number == from.line {
            from.column.saturating_sub(1)
        } else {
            0
        };
        let chars: Vec<char> = line.chars().collect();
        if let Some(offset) = chars.iter().skip(start).position(|c| *c == '\t') {
            return Some(Pos {
                line: number,
                column: start + offset + 1,
            });
        }
        if number > from.line + 1 {
            break;
        }
    }
    None
}

/// The innermost `[` or `{` before `upto` that no `]` or `}` closes, outside quotes and
/// comments.
fn unclosed_flow_opener(text: &str, upto: Pos) -> Option<(Pos, char)> {
    let mut open: Vec<(Pos, char)> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        if number > upto.line {
            break;
        }
        let mut quote: Option<char> = None;
        let mut previous = ' ';
        // The last character that was not a space: a flow collection starts only after
        // `:`, `-`, `,`, `[`, `{` or at the start of a line, never inside a plain scalar.
        let mut before = None::<char>;
        for (column, c) in line.chars().enumerate() {
            if number == upto.line && column + 1 >= upto.column {
                break;
            }
            match (quote, c) {
                (Some('"'), '"') if previous != '\\' => quote = None,
                (Some('\''), '\'') => quote = None,
                (Some(_), _) => {}
                (None, '"' | '\'') => quote = Some(c),
                (None, '#') if previous.is_whitespace() => break,
                (None, '[' | '{')
                    if before.is_none_or(|b| matches!(b, ':' | '-' | ',' | '[' | '{')) =>
                {
                    open.push((
                        Pos {
                            line: number,
                            column: column + 1,
                        },
                        c,
                    ))
                }
                (None, ']' | '}') => {
                    open.pop();
                }
                _ => {}
            }
            previous = c;
            if !c.is_whitespace() {
                before = Some(c);
            }
        }
    }
    open.pop()
}

/// A container being built, with the size and height of what it holds so far.
struct Frame {
    pos: Pos,
    anchor: usize,
    kind: FrameKind,
    /// Nodes in this container, itself included.
    size: usize,
    /// Levels of containers below this one.
    height: usize,
}

enum FrameKind {
    Seq(Vec<Node>),
    Map {
        entries: Vec<Entry>,
        /// The key read and waiting for its value; `Some(None)` when the key was refused
        /// and its value must be dropped.
        key: Option<Option<(String, Pos)>>,
    },
}

/// A finished node, with its size and height for the budgets.
struct Built {
    node: Node,
    size: usize,
    height: usize,
}

struct Builder {
    max_depth: usize,
    max_documents: usize,
    out: Parsed,
    stack: Vec<Frame>,
    /// Anchored nodes of the current document by anchor id, for aliases.
    anchors: HashMap<usize, (Node, usize, usize)>,
    copied_nodes: usize,
    document: usize,
}

type Step = Result<(), (Pos, TreeError)>;

impl Builder {
    fn event(&mut self, event: Event<'_>, span: Span) -> Step {
        let pos = Pos::from_marker(&span.start);
        match event {
            Event::DocumentStart(..) => {
                self.document += 1;
                if self.document > self.max_documents {
                    return Err((
                        pos,
                        TreeError::TooManyDocuments {
                            max: self.max_documents,
                        },
                    ));
                }
                self.anchors.clear();
                Ok(())
            }
            Event::Scalar(text, style, anchor, tag) => {
                let kind = scalar_kind(&text, style, tag.as_deref());
                // A long scalar weighs by its length, so aliases of one large string
                // count against the copy budget as the bytes they copy.
                let size = 1 + text.len() / SCALAR_BYTES_PER_NODE;
                let node = Node {
                    pos,
                    value: Value::Scalar(Scalar {
                        text: text.into_owned(),
                        kind,
                    }),
                };
                self.finish(
                    Built {
                        node,
                        size,
                        height: 0,
                    },
                    anchor,
                )
            }
            Event::SequenceStart(_, anchor, _) => {
                self.open(pos, anchor, FrameKind::Seq(Vec::new()))
            }
            Event::MappingStart(_, anchor, _) => self.open(
                pos,
                anchor,
                FrameKind::Map {
                    entries: Vec::new(),
                    key: None,
                },
            ),
            Event::SequenceEnd | Event::MappingEnd => self.close(),
            Event::Alias(id) => self.alias(pos, id),
            // Stream and document ends, and presentation-only events, add no node.
            _ => Ok(()),
        }
    }

    fn open(&mut self, pos: Pos, anchor: usize, kind: FrameKind) -> Step {
        if self.stack.len() >= self.max_depth {
            return Err((
                pos,
                TreeError::TooDeep {
                    max: self.max_depth,
                },
            ));
        }
        self.stack.push(Frame {
            pos,
            anchor,
            kind,
            size: 1,
            height: 1,
        });
        Ok(())
    }

    fn close(&mut self) -> Step {
        let Some(frame) = self.stack.pop() else {
            return Ok(());
        };
        let (value, size) = match frame.kind {
            FrameKind::Seq(items) => (Value::Seq(items), frame.size),
            FrameKind::Map { entries, .. } => {
                (Value::Map(Self::apply_merge_keys(entries)?), frame.size)
            }
        };
        let node = Node {
            pos: frame.pos,
            value,
        };
        self.finish(
            Built {
                node,
                size,
                height: frame.height,
            },
            frame.anchor,
        )
    }

    fn alias(&mut self, pos: Pos, id: usize) -> Step {
        // The parser refuses unknown aliases itself, so a miss is an alias to a node
        // still open: one that contains the alias.
        let Some((_, size, height)) = self.anchors.get(&id) else {
            return Err((pos, TreeError::RecursiveAlias));
        };
        let (size, height) = (*size, *height);
        if self.stack.len() + height > self.max_depth {
            return Err((
                pos,
                TreeError::TooDeep {
                    max: self.max_depth,
                },
            ));
        }
        self.charge_copy(pos, size)?;
        let mut node = self.anchors[&id].0.clone();
        node.pos = pos;
        self.finish(Built { node, size, height }, 0)
    }

    /// Adds a finished node to its parent, or makes it the document's root.
    /// Counts `size` copied nodes against [`COPY_BUDGET`].
    fn charge_copy(&mut self, pos: Pos, size: usize) -> Step {
        self.copied_nodes = self.copied_nodes.saturating_add(size);
        if self.copied_nodes > COPY_BUDGET {
            return Err((pos, TreeError::AliasBomb));
        }
        Ok(())
    }

    fn finish(&mut self, built: Built, anchor: usize) -> Step {
        if anchor != 0 {
            self.charge_copy(built.node.pos, built.size)?;
            self.anchors
                .insert(anchor, (built.node.clone(), built.size, built.height));
        }
        let Some(parent) = self.stack.last_mut() else {
            if !built.node.is_null() {
                self.out.documents.push(Document {
                    index: self.document,
                    root: built.node,
                });
            }
            return Ok(());
        };
        parent.size = parent.size.saturating_add(built.size);
        parent.height = parent.height.max(built.height + 1);
        match &mut parent.kind {
            FrameKind::Seq(items) => items.push(built.node),
            FrameKind::Map { entries, key } => match key.take() {
                None => {
                    *key = Some(match built.node.value {
                        Value::Scalar(s) => Some((s.text, built.node.pos)),
                        _ => {
                            let found = built.node.describe();
                            self.out.problems.push(Problem {
                                document: self.document,
                                pos: built.node.pos,
                                path: String::new(),
                                error: TreeError::ComplexKey { found },
                            });
                            None
                        }
                    });
                }
                Some(None) => {}
                Some(Some((name, key_pos))) => entries.push(Entry {
                    key: name,
                    key_pos,
                    value: built.node,
                }),
            },
        }
        Ok(())
    }

    /// Expands `<<` entries: explicit keys win over merged ones, earlier sources over later.
    /// Merged entries are moved, not copied: the aliases that brought them were counted.
    fn apply_merge_keys(entries: Vec<Entry>) -> Result<Vec<Entry>, (Pos, TreeError)> {
        if !entries.iter().any(|e| e.key == "<<") {
            return Ok(entries);
        }
        let (merges, mut own): (Vec<Entry>, Vec<Entry>) =
            entries.into_iter().partition(|e| e.key == "<<");
        let mut sources = Vec::new();
        for merge in merges {
            let value = merge.value;
            match value.value {
                Value::Map(inner) => sources.push(inner),
                Value::Seq(items) => {
                    for item in items {
                        match item.value {
                            Value::Map(inner) => sources.push(inner),
                            _ => {
                                let found = item.describe();
                                return Err((item.pos, TreeError::BadMerge { found }));
                            }
                        }
                    }
                }
                Value::Scalar(_) => {
                    let found = value.describe();
                    return Err((value.pos, TreeError::BadMerge { found }));
                }
            }
        }
        // A set of the keys so far keeps this linear: a crafted file merging many large
        // mappings would otherwise compare every key with every other.
        let mut keys: std::collections::HashSet<String> =
            own.iter().map(|e| e.key.clone()).collect();
        for source in sources {
            for entry in source {
                if keys.insert(entry.key.clone()) {
                    own.push(entry);
                }
            }
        }
        Ok(own)
    }
}

/// Renders a document as normalised YAML: the author's keys, order and values, without
/// comments, anchors or layout choices (two-space indentation, block style, strings
/// quoted only where YAML needs it). Two documents that differ only in comments or
/// formatting render the same.
pub fn render_yaml(node: &Node) -> String {
    let mut out = String::new();
    render_node(node, 0, &mut out);
    out
}

fn render_node(node: &Node, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match &node.value {
        Value::Scalar(scalar) => {
            out.push_str(&render_scalar(scalar));
            out.push('\n');
        }
        Value::Seq(items) if items.is_empty() => out.push_str("[]\n"),
        Value::Map(entries) if entries.is_empty() => out.push_str("{}\n"),
        Value::Seq(items) => {
            for item in items {
                out.push_str(&pad);
                out.push_str("- ");
                render_inline_start(item, indent + 2, out);
            }
        }
        Value::Map(entries) => {
            for (i, entry) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(&pad);
                }
                out.push_str(&render_key(&entry.key));
                out.push(':');
                match &entry.value.value {
                    Value::Scalar(_) => {
                        out.push(' ');
                        render_node(&entry.value, indent + 2, out);
                    }
                    Value::Seq(items) if items.is_empty() => out.push_str(" []\n"),
                    Value::Map(inner) if inner.is_empty() => out.push_str(" {}\n"),
                    Value::Seq(_) => {
                        out.push('\n');
                        render_node(&entry.value, indent, out);
                    }
                    Value::Map(_) => {
                        out.push('\n');
                        out.push_str(&" ".repeat(indent + 2));
                        render_node(&entry.value, indent + 2, out);
                    }
                }
            }
        }
    }
}

/// Renders a list item after its `- `: a mapping's first key goes on the dash's line.
fn render_inline_start(node: &Node, indent: usize, out: &mut String) {
    match &node.value {
        Value::Seq(items) if !items.is_empty() => {
            out.push('\n');
            render_node(node, indent, out);
        }
        _ => render_node(node, indent, out),
    }
}

fn render_key(key: &str) -> String {
    render_scalar(&Scalar {
        text: key.to_owned(),
        kind: ScalarKind::String,
    })
}

fn render_scalar(scalar: &Scalar) -> String {
    let text = scalar.text.as_str();
    let plain_safe = !text.is_empty()
        && text.trim() == text
        && !text.contains(": ")
        && !text.contains(" #")
        && !text.ends_with(':')
        && !text.starts_with(|c: char| "-?:,[]{}#&*!|>'\"%@`".contains(c))
        && text.chars().all(|c| !c.is_control())
        && !text.contains(['\n', '\t']);
    match scalar.kind {
        // `key:` with nothing after it is null, not the empty string.
        ScalarKind::Null if text.is_empty() => "null".to_owned(),
        ScalarKind::String => {
            let reads_back_as_string =
                scalar_kind(text, ScalarStyle::Plain, None) == ScalarKind::String;
            if plain_safe && reads_back_as_string {
                text.to_owned()
            } else {
                serde_json::to_string(text).unwrap_or_default()
            }
        }
        _ if plain_safe => text.to_owned(),
        _ => serde_json::to_string(text).unwrap_or_default(),
    }
}

/// Types a scalar by YAML 1.2's core schema: quoted and block scalars and `!!str` are
/// strings; plain scalars may be null, booleans or numbers.
fn scalar_kind(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> ScalarKind {
    if let Some(tag) = tag {
        if tag.is_yaml_core_schema() {
            match tag.suffix() {
                "str" => return ScalarKind::String,
                "null" => return ScalarKind::Null,
                "bool" => return ScalarKind::Bool,
                "int" | "float" => return ScalarKind::Number,
                _ => {}
            }
        }
    }
    if style != ScalarStyle::Plain {
        return ScalarKind::String;
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => ScalarKind::Null,
        "true" | "True" | "TRUE" | "false" | "False" | "FALSE" => ScalarKind::Bool,
        _ if is_number(text) => ScalarKind::Number,
        _ => ScalarKind::String,
    }
}

fn is_number(text: &str) -> bool {
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    if let Some(hex) = text.strip_prefix("0x") {
        return !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit());
    }
    if let Some(oct) = text.strip_prefix("0o") {
        return !oct.is_empty() && oct.bytes().all(|b| (b'0'..=b'7').contains(&b));
    }
    if matches!(unsigned, ".inf" | ".Inf" | ".INF") || matches!(text, ".nan" | ".NaN" | ".NAN") {
        return true;
    }
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(i) => (&unsigned[..i], Some(&unsigned[i + 1..])),
        None => (unsigned, None),
    };
    let (int_part, frac_part) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = digits(int_part)
        && frac_part.is_none_or(digits)
        && (!int_part.is_empty() || frac_part.is_some_and(|f| !f.is_empty()));
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    mantissa_ok && exponent_ok
}

/// One step of a field path: a key or a list index.
enum PathStep<'a> {
    Key(&'a str),
    Index(usize),
}

/// Renders a field path; only done when there is something to report, so walking a
/// large document does not build a string per node.
fn render_path(steps: &[PathStep<'_>]) -> String {
    steps.iter().fold(String::new(), |path, step| match step {
        PathStep::Key(key) => join_path(&path, key),
        PathStep::Index(i) => format!("{path}[{i}]"),
    })
}

/// Reports keys written twice in one mapping, anywhere in the document.
fn find_duplicate_keys<'n>(
    node: &'n Node,
    document: usize,
    path: &mut Vec<PathStep<'n>>,
    out: &mut Vec<Problem>,
) {
    match &node.value {
        Value::Scalar(_) => {}
        Value::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(PathStep::Index(i));
                find_duplicate_keys(item, document, path, out);
                path.pop();
            }
        }
        Value::Map(entries) => {
            let mut first: HashMap<&str, Pos> = HashMap::new();
            for entry in entries {
                path.push(PathStep::Key(&entry.key));
                if let Some(first_pos) = first.get(entry.key.as_str()) {
                    out.push(Problem {
                        document,
                        pos: entry.key_pos,
                        path: render_path(path),
                        error: TreeError::DuplicateKey {
                            key: truncate(&entry.key, 64),
                            first_line: first_pos.line,
                        },
                    });
                } else {
                    first.insert(&entry.key, entry.key_pos);
                }
                find_duplicate_keys(&entry.value, document, path, out);
                path.pop();
            }
        }
    }
}

/// Appends `key` to a field path: `spec` + `owner` is `spec.owner`; keys that are not
/// plain words are quoted: `metadata.annotations["seam.dev/version"]`.
pub fn join_path(path: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'$');
    match (path.is_empty(), plain) {
        (true, true) => key.to_owned(),
        (false, true) => format!("{path}.{key}"),
        (_, false) => format!("{path}[{key:?}]"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(text: &str) -> ScalarKind {
        scalar_kind(text, ScalarStyle::Plain, None)
    }

    #[test]
    fn types_plain_scalars_by_the_core_schema() {
        for null in ["", "~", "null", "NULL"] {
            assert_eq!(scalar(null), ScalarKind::Null, "{null}");
        }
        for boolean in ["true", "False"] {
            assert_eq!(scalar(boolean), ScalarKind::Bool, "{boolean}");
        }
        for number in [
            "1", "-2", "1.5", "1.", ".5", "1e3", "-1.5E-3", "0x1F", "0o17", ".inf", "-.inf", ".nan",
        ] {
            assert_eq!(scalar(number), ScalarKind::Number, "{number}");
        }
        for string in [
            "1.2.3",
            "v1",
            "yes",
            "1e",
            ".",
            "-",
            "0x",
            "e3",
            "1.4.0-rc.1",
        ] {
            assert_eq!(scalar(string), ScalarKind::String, "{string}");
        }
        assert_eq!(
            scalar_kind("1", ScalarStyle::DoubleQuoted, None),
            ScalarKind::String
        );
    }

    #[test]
    fn paths_quote_keys_that_are_not_words() {
        assert_eq!(join_path("", "spec"), "spec");
        assert_eq!(join_path("spec", "owner"), "spec.owner");
        assert_eq!(
            join_path("metadata.annotations", "seam.dev/version"),
            "metadata.annotations[\"seam.dev/version\"]"
        );
    }

    #[test]
    fn keeps_positions_and_counts_empty_documents() {
        let parsed = parse("---\n---\na:\n  - b: 1\n", 32, 10);
        assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
        assert_eq!(parsed.documents.len(), 1);
        let doc = &parsed.documents[0];
        assert_eq!(doc.index, 2);
        let Value::Map(entries) = &doc.root.value else {
            panic!("not a map")
        };
        assert_eq!(entries[0].key_pos, Pos { line: 3, column: 1 });
        let Value::Seq(items) = &entries[0].value.value else {
            panic!("not a list")
        };
        let Value::Map(inner) = &items[0].value else {
            panic!("not a map")
        };
        assert_eq!(inner[0].value.pos, Pos { line: 4, column: 8 });
    }

    #[test]
    fn renders_documents_without_comments_or_layout() {
        let a = "# owner changed in March\nkind: Service   # trailing\nmetadata: {name: \"checkout\", tags: [a, b]}\nspec:\n    version: '1.4.0'\n    empty: []\n    ports:\n      - {port: 80, name: http}\n      - 8080\n    note: \"yes: really\"\n";
        let b = "kind: Service\nmetadata:\n  name: checkout\n  tags:\n    - a\n    - b\nspec:\n  version: \"1.4.0\"\n  empty: []\n  ports:\n  - name: http\n    port: 80\n  - 8080\n  note: 'yes: really'\n";
        let render = |text: &str| render_yaml(&parse(text, 32, 10).documents[0].root);
        assert_eq!(
            render(a),
            "kind: Service\nmetadata:\n  name: checkout\n  tags:\n  - a\n  - b\nspec:\n  version: 1.4.0\n  empty: []\n  ports:\n  - port: 80\n    name: http\n  - 8080\n  note: \"yes: really\"\n"
        );
        // Key order is the author's: `b` writes name before port.
        assert_ne!(render(a), render(b));
        assert_eq!(render(a), render(&a.replace("# trailing", "")));
    }

    #[test]
    fn expands_aliases_and_merge_keys() {
        let parsed = parse(
            "base: &b {x: 1, y: 2}\ncopy: *b\nmerged: {<<: *b, y: 3}\n",
            32,
            10,
        );
        assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
        let Value::Map(entries) = &parsed.documents[0].root.value else {
            panic!("not a map")
        };
        assert_eq!(entries[1].value.pos, Pos { line: 2, column: 7 });
        let Value::Map(merged) = &entries[2].value.value else {
            panic!("not a map")
        };
        let pairs: Vec<(&str, &str)> = merged
            .iter()
            .map(|e| match &e.value.value {
                Value::Scalar(s) => (e.key.as_str(), s.text.as_str()),
                _ => panic!("not a scalar"),
            })
            .collect();
        assert_eq!(pairs, [("y", "3"), ("x", "1")]);
    }
}
