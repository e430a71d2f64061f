//! Line diff of two texts, for comparing manifest revisions.

use crate::dto::{DiffKind, DiffLine};

/// Longest inputs diffed line by line; longer ones are shown as removed-then-added.
const MAX_LINES: usize = 4000;

/// Returns the lines of `old` and `new` with what changed between them, by longest
/// common subsequence.
pub fn lines(old: &str, new: &str) -> Vec<DiffLine> {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let line = |kind, text: &str| DiffLine {
        kind,
        text: text.to_owned(),
    };
    if a.len() > MAX_LINES || b.len() > MAX_LINES {
        return a
            .iter()
            .map(|t| line(DiffKind::Removed, t))
            .chain(b.iter().map(|t| line(DiffKind::Added, t)))
            .collect();
    }
    // lcs[i][j]: length of the longest common subsequence of a[i..] and b[j..].
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(a.len().max(b.len()));
    while i < a.len() && j < b.len() {
        if a[i] == b[j] {
            out.push(line(DiffKind::Same, a[i]));
            i += 1;
            j += 1;
        } else if lcs[i + 1][j] >= lcs[i][j + 1] {
            out.push(line(DiffKind::Removed, a[i]));
            i += 1;
        } else {
            out.push(line(DiffKind::Added, b[j]));
            j += 1;
        }
    }
    out.extend(a[i..].iter().map(|t| line(DiffKind::Removed, t)));
    out.extend(b[j..].iter().map(|t| line(DiffKind::Added, t)));
    out
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
}
