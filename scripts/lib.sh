# Shared by the scripts in this directory; source it, do not run it.
# Decides where things live and which route builds the wasm half (see
# ../shared/docs/TOOLCHAIN.md for why there are two).

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
# Tools Seam's build installs (wasm-bindgen, wasm-opt) go here, not into the system.
SEAM_TOOLS=${SEAM_TOOLS:-$HOME/.cache/seam-tools}
export PATH="$SEAM_TOOLS/bin:$HOME/.cargo/bin:$PATH"
SITE_DIR=$CARGO_TARGET_DIR/site

log() { printf '[%s %(%H:%M:%S)T] %s\n' "$(basename "$0")" -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Runs a command as root: directly when we are root, through sudo otherwise.
as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

# Route "rustup": the active toolchain has the wasm32 std (rustup target add ...).
# Route "debian": build the std from Debian's rustc-web sources with -Zbuild-std.
wasm_route() {
  if [[ "${SEAM_WASM_ROUTE:-}" == debian ]]; then echo debian; return; fi
  local sysroot
  sysroot=$(rustc --print sysroot)
  if compgen -G "$sysroot/lib/rustlib/wasm32-unknown-unknown/lib/libstd-*.rlib" >/dev/null; then
    echo rustup
  else
    echo debian
  fi
}

# The version of the wasm-bindgen crate in Cargo.lock: wasm-bindgen-cli must match it.
wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$ROOT/Cargo.lock"
}
