//! The committed fixtures under `schemas/` read for tests: the valid example envelopes
//! (`examples/valid/`) and the national test vectors (`vectors/<nation>/`). One reader, so that
//! every crate's tests load them the same way.

// Test fixtures: a panic here is a failing test, not a production fault.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use crate::{Envelope, PayloadKind};

/// The `schemas/` folder of this checkout (this crate's own folder).
pub fn schemas_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every envelope in `schemas/examples/valid/`, in file-name order.
pub fn valid_examples() -> Vec<Envelope> {
    let dir = schemas_dir().join("examples/valid");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    names
        .iter()
        .map(|p| {
            let bytes = std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            Envelope::from_json(&bytes).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        })
        .collect()
}

/// [`valid_examples`] without the hub's common events: the examples a nation sends, which
/// its national format carries (a common event only goes out from the hub, as several
/// national frames).
pub fn national_examples() -> Vec<Envelope> {
    valid_examples()
        .into_iter()
        .filter(|e| e.payload.kind() != PayloadKind::CommonEvent)
        .collect()
}

/// The test vectors of `nation` (`"jp"`, `"kr"`, `"us"`): `schemas/vectors/<nation>/`.
pub fn vectors_dir(nation: &str) -> PathBuf {
    schemas_dir().join("vectors").join(nation)
}

/// The text of vector file `file` (with its extension) of `nation`.
pub fn vector_text(nation: &str, file: &str) -> String {
    let path = vectors_dir(nation).join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The bytes of vector `<name>.hex` of `nation`: hex digits, white space ignored, `#` starts
/// a comment that runs to the end of the line.
pub fn vector_hex(nation: &str, name: &str) -> Vec<u8> {
    hex_file(&vectors_dir(nation).join(format!("{name}.hex")))
}

/// The bytes of a hex file in the vectors' format (see [`vector_hex`]).
pub fn hex_file(path: &Path) -> Vec<u8> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let digits: Vec<u8> = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .flat_map(str::bytes)
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    assert!(
        digits.len().is_multiple_of(2),
        "{}: odd number of hex digits",
        path.display()
    );
    digits
        .chunks(2)
        .map(|pair| {
            let pair = std::str::from_utf8(pair).unwrap();
            u8::from_str_radix(pair, 16)
                .unwrap_or_else(|e| panic!("{}: {pair:?}: {e}", path.display()))
        })
        .collect()
}

/// The names (without extension) of `nation`'s vector files ending in `.<ext>`, sorted.
pub fn vector_names(nation: &str, ext: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(vectors_dir(nation))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some(ext))
        .map(|p| p.file_stem().unwrap().to_str().unwrap().to_owned())
        .collect();
    v.sort();
    v
}

/// The text of `nation`'s vector `<name>.<ext>`, if that file exists.
pub fn vector_file(nation: &str, name: &str, ext: &str) -> Option<String> {
    std::fs::read_to_string(vectors_dir(nation).join(format!("{name}.{ext}"))).ok()
}

/// `nation`'s vector `<name>.json` as an envelope.
pub fn vector_envelope(nation: &str, name: &str) -> Envelope {
    let text = vector_text(nation, &format!("{name}.json"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{nation}/{name}.json: {e}"))
}
