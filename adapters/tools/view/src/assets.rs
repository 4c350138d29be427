//! The page's static files, embedded in the binary: the view needs no network but the link.

/// `(name, body, content type)` of every embedded file.
const FILES: &[(&str, &[u8], &str)] = &[
    (
        "index.html",
        include_bytes!("../assets/index.html"),
        "text/html; charset=utf-8",
    ),
    (
        "app.js",
        include_bytes!("../assets/app.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "style.css",
        include_bytes!("../assets/style.css"),
        "text/css; charset=utf-8",
    ),
    (
        "vendor/d3-array.min.js",
        include_bytes!("../assets/vendor/d3-array.min.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "vendor/d3-geo.min.js",
        include_bytes!("../assets/vendor/d3-geo.min.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "vendor/topojson-client.min.js",
        include_bytes!("../assets/vendor/topojson-client.min.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "vendor/countries-50m.json",
        include_bytes!("../assets/vendor/countries-50m.json"),
        "application/json",
    ),
    (
        "vendor/README.md",
        include_bytes!("../assets/vendor/README.md"),
        "text/markdown; charset=utf-8",
    ),
];

/// The embedded file `name` and its content type.
pub fn get(name: &str) -> Option<(&'static [u8], &'static str)> {
    FILES
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, body, mime)| (*body, *mime))
}
