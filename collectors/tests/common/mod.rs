//! What the collectors' test binaries share.

use std::path::PathBuf;

/// The directory `name` of the shared conformance data (`$SEAM_TESTDATA`, by default
/// `../shared/testdata` beside the repository). `None`, after saying the test is
/// skipped, when it is missing; a failure instead when `SEAM_REQUIRE_TESTDATA` is set.
pub fn testdata(name: &str) -> Option<PathBuf> {
    let root = std::env::var_os("SEAM_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../shared/testdata"
            ))
        });
    let dir = root.join(name);
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("SEAM_REQUIRE_TESTDATA").is_none(),
        "SEAM_REQUIRE_TESTDATA is set but {} is missing",
        dir.display()
    );
    eprintln!(
        "skipped: {name}, {} not found (set SEAM_TESTDATA to the shared testdata directory)",
        dir.display()
    );
    None
}
