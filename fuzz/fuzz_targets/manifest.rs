//! `Manifest::decode` on arbitrary bytes must never panic; whatever it accepts must survive
//! `to_json` then `decode` unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use s3vec::format::Manifest;

fuzz_target!(|data: &[u8]| {
    let Ok(manifest) = Manifest::decode(data) else {
        return;
    };
    let json = manifest.to_json();
    let again = match Manifest::decode(&json) {
        Ok(again) => again,
        Err(e) => panic!(
            "re-serialized manifest does not decode: {e}\n{}",
            String::from_utf8_lossy(&json)
        ),
    };
    assert_eq!(again, manifest, "manifest changed across to_json/decode");
    assert_eq!(again.to_json(), json, "to_json is not deterministic");
});
