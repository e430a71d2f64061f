//! Line diff of two texts, for comparing manifest revisions.

use crate::dto::{DiffKind, DiffLine};

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
