//! The committed C header `include/xen_null_rs.h` must be what cbindgen
//! makes of the exported hooks now. `BLESS=1` rewrites it.

use std::path::Path;

#[test]
fn exported_header_is_fresh() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_crate(dir)
        .with_config(config)
        .generate()
        .expect("cbindgen");
    let mut fresh = Vec::new();
    bindings.write(&mut fresh);
    let path = dir.join("include/xen_null_rs.h");
    if std::env::var_os("BLESS").is_some_and(|v| !v.is_empty()) {
        std::fs::write(&path, &fresh).unwrap();
        return;
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "include/xen_null_rs.h is stale; regenerate with `BLESS=1 cargo test --test header`.\nExpected:\n{}",
        String::from_utf8_lossy(&fresh)
    );
    for hook in [
        "null_rs_init",
        "null_rs_schedule",
        "null_rs_unit_wake",
        "null_rs_dump",
    ] {
        assert!(
            String::from_utf8_lossy(&fresh).contains(hook),
            "{hook} missing from the header"
        );
    }
}
