//! Line diff of two texts, for comparing manifest revisions.

use crate::dto::{DiffKind, DiffLine, RevisionDiff};

/// Most cells of the longest-common-subsequence table (lines of the changed middle of
/// one text times those of the other): about 4 MB. Past it, the middle is shown as
/// removed-then-added, so a diff never costs more than that, whatever the input.
const MAX_CELLS: usize = 1_000_000;

/// Returns the lines of `old` and `new` with what changed between them: the common
/// beginning and end as they are, the middle by longest common subsequence (bounded by
/// [`MAX_CELLS`]).
pub fn lines(old: &str, new: &str) -> Vec<DiffLine> {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let line = |kind, text: &str| DiffLine {
        kind,
        text: text.to_owned(),
    };
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (a_mid, b_mid) = (&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]);
    let mut out = Vec::with_capacity(a.len().max(b.len()) + 1);
    out.extend(a[..prefix].iter().map(|t| line(DiffKind::Same, t)));
    if a_mid.len().saturating_mul(b_mid.len()) > MAX_CELLS {
        out.extend(a_mid.iter().map(|t| line(DiffKind::Removed, t)));
        out.extend(b_mid.iter().map(|t| line(DiffKind::Added, t)));
    } else {
        middle(a_mid, b_mid, &mut out);
    }
    out.extend(
        a[a.len() - suffix..]
            .iter()
            .map(|t| line(DiffKind::Same, t)),
    );
    out
}

/// Summarises a line diff of two YAML (or pretty JSON) documents by field path, two
/// levels deep (`spec.version`, `spec.consumes`): what was added, removed or changed.
pub fn summarise(old: &str, new: &str, lines: Vec<DiffLine>) -> RevisionDiff {
    use std::collections::BTreeSet;
    let old_paths = paths(old);
    let new_paths = paths(new);
    let (mut in_old, mut in_new) = (0, 0);
    let mut removed = BTreeSet::new();
    let mut added = BTreeSet::new();
    for line in &lines {
        match line.kind {
            DiffKind::Same => {
                in_old += 1;
                in_new += 1;
            }
            DiffKind::Removed => {
                removed.extend(old_paths.get(in_old).cloned().flatten());
                in_old += 1;
            }
            DiffKind::Added => {
                added.extend(new_paths.get(in_new).cloned().flatten());
                in_new += 1;
            }
        }
    }
    let changed: Vec<String> = removed.intersection(&added).cloned().collect();
    RevisionDiff {
        added: added.difference(&removed).cloned().collect(),
        removed: removed.difference(&added).cloned().collect(),
        changed,
        lines,
    }
}

/// For each line of a block-style document, the field path it belongs to (at most two
/// keys deep), when it has one.
fn paths(text: &str) -> Vec<Option<String>> {
    let mut stack: Vec<(usize, String)> = Vec::new();
    text.lines()
        .map(|line| {
            let trimmed = line.trim_start();
            let mut indent = line.len() - trimmed.len();
            let mut content = trimmed;
            while let Some(rest) = content.strip_prefix("- ") {
                indent += 2;
                content = rest;
            }
            let key = content
                .split_once(':')
                .map(|(k, _)| k.trim().trim_matches('"').to_owned())
                .filter(|k| !k.is_empty() && !k.contains(' ') && !k.starts_with(['{', '[']));
            while stack.last().is_some_and(|(i, _)| *i >= indent) {
                stack.pop();
            }
            let mut path: Vec<String> = stack.iter().map(|(_, k)| k.clone()).collect();
            if let Some(key) = &key {
                path.push(key.clone());
                stack.push((indent, key.clone()));
            }
            (!path.is_empty()).then(|| path.into_iter().take(2).collect::<Vec<_>>().join("."))
        })
        .collect()
}

/// The longest-common-subsequence diff of `a` and `b`, appended to `out`.
fn middle(a: &[&str], b: &[&str], out: &mut Vec<DiffLine>) {
    let line = |kind, text: &str| DiffLine {
        kind,
        text: text.to_owned(),
    };
    // lcs[i][j]: length of the longest common subsequence of a[i..] and b[j..].
    let width = b.len() + 1;
    let mut lcs = vec![0u32; (a.len() + 1) * width];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i * width + j] = if a[i] == b[j] {
                lcs[(i + 1) * width + j + 1] + 1
            } else {
                lcs[(i + 1) * width + j].max(lcs[i * width + j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i] == b[j] {
            out.push(line(DiffKind::Same, a[i]));
            i += 1;
            j += 1;
        } else if lcs[(i + 1) * width + j] >= lcs[i * width + j + 1] {
            out.push(line(DiffKind::Removed, a[i]));
            i += 1;
        } else {
            out.push(line(DiffKind::Added, b[j]));
            j += 1;
        }
    }
    out.extend(a[i..].iter().map(|t| line(DiffKind::Removed, t)));
    out.extend(b[j..].iter().map(|t| line(DiffKind::Added, t)));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(old: &str, new: &str, expected: &str) {
        let rendered: Vec<String> = lines(old, new)
            .into_iter()
            .map(|l| {
                let mark = match l.kind {
                    DiffKind::Same => ' ',
                    DiffKind::Added => '+',
                    DiffKind::Removed => '-',
                };
                format!("{mark}{}", l.text)
            })
            .collect();
        assert_eq!(rendered.join("\n"), expected);
    }

    #[test]
    fn diffs() {
        check("a\nb\nc", "a\nb\nc", " a\n b\n c");
        check("a\nb\nc", "a\nx\nc", " a\n-b\n+x\n c");
        check("", "a", "+a");
        check("a\nb", "", "-a\n-b");
        check(
            "version: 1\nowner: x",
            "version: 2\nowner: x\ndomain: y",
            "-version: 1\n+version: 2\n owner: x\n+domain: y",
        );
    }

    #[test]
    fn summarises_by_field() {
        let old = "kind: Service\nmetadata:\n  name: a\nspec:\n  version: 1.0.0\n  owner: t\n  consumes:\n  - service: b\n";
        let new = "kind: Service\nmetadata:\n  name: a\nspec:\n  version: 1.1.0\n  owner: t\n  domain: shop\n";
        let diff = summarise(old, new, lines(old, new));
        assert_eq!(diff.changed, ["spec.version"]);
        assert_eq!(diff.added, ["spec.domain"]);
        assert_eq!(diff.removed, ["spec.consumes"]);
    }

    #[test]
    fn large_inputs_stay_bounded() {
        // 20,000 lines each, every one different: past the bound, shown whole.
        let old: Vec<String> = (0..20_000).map(|i| format!("a{i}")).collect();
        let new: Vec<String> = (0..20_000).map(|i| format!("b{i}")).collect();
        let found = lines(&old.join("\n"), &new.join("\n"));
        assert_eq!(found.len(), 40_000);
        // A one-line change in a long text keeps the rest as it is.
        let mut edited = old.clone();
        edited[10_000] = "changed".into();
        let found = lines(&old.join("\n"), &edited.join("\n"));
        let changed: Vec<&DiffLine> = found.iter().filter(|l| l.kind != DiffKind::Same).collect();
        assert_eq!(changed.len(), 2);
    }
}
