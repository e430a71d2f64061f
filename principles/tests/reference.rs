//! docs/principles.md is the reference of every finding code, generated from the rules
//! themselves: this test fails when the two differ. `SEAM_UPDATE_DOCS=1 cargo test -p
//! seam-principles --test reference` writes it anew.

const HEADER: &str = "# Finding codes\n\nEvery finding of Seam's principles has one of these codes. This page is generated from\nthe rules (`principles/src/rules.rs`) by `SEAM_UPDATE_DOCS=1 cargo test -p seam-principles\n--test reference`; a test keeps it current.\n\n";

#[test]
fn the_reference_page_is_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/principles.md");
    let expected = format!("{HEADER}{}", seam_principles::rules::reference_markdown());
    if std::env::var_os("SEAM_UPDATE_DOCS").is_some() {
        std::fs::write(&path, &expected).unwrap();
    }
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        current == expected,
        "docs/principles.md is out of date: run SEAM_UPDATE_DOCS=1 cargo test -p seam-principles --test reference"
    );
}
