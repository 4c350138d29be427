//! Property tests: any generated valid envelope survives a JSON round trip unchanged,
//! validates, and validates against the committed JSON Schema.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure

mod common;

use std::sync::OnceLock;

use proptest::prelude::*;
use trilink_schema::Envelope;
use trilink_schema::testing::strategy::envelope;

fn validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/json/envelope.schema.json");
        let schema: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .unwrap()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn json_round_trip_is_lossless_and_valid(e in envelope(common::now())) {
        prop_assert_eq!(e.validate(&common::ctx()), Ok(()));
        let bytes = e.to_json().unwrap();
        let back = Envelope::from_json(&bytes).unwrap();
        prop_assert_eq!(&back, &e);
        prop_assert_eq!(back.validate(&common::ctx()), Ok(()));
        let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let errors: Vec<String> = validator().iter_errors(&doc).map(|x| format!("{}: {x}", x.instance_path())).collect();
        prop_assert!(errors.is_empty(), "JSON Schema rejects a valid envelope: {:?}", errors);
    }

    #[test]
    fn parsing_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(e) = Envelope::from_json(&bytes) {
            let _ = e.validate(&common::ctx());
        }
    }
}
