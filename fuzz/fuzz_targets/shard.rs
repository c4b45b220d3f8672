//! `decode_shard` on arbitrary bytes must never panic; whatever it accepts must survive
//! re-encoding: decode(encode(decoded)) gives the same shard, and encoding is canonical.
//!
//! Random mutations almost never keep the XXH3 checksum right, which would stop the fuzzer at
//! the checksum check. So each input is decoded twice: as it is (the checks before the
//! checksum), then with the magic and checksum patched in (everything after it).
#![no_main]

use libfuzzer_sys::fuzz_target;
use s3vec::format::{checksum, decode_shard, encode_shard};

fuzz_target!(|data: &[u8]| {
    check(data);
    if data.len() >= 16 {
        let mut fixed = data.to_vec();
        fixed[..8].copy_from_slice(b"S3VSHARD");
        let sum = checksum(&fixed[16..]);
        fixed[8..16].copy_from_slice(&sum.to_le_bytes());
        check(&fixed);
    }
});

fn check(data: &[u8]) {
    let Ok(shard) = decode_shard(data) else {
        return;
    };
    assert_eq!(shard.checksum, checksum(&data[16..]));
    let owned = shard.to_owned_shard();
    let bytes = match encode_shard(&owned) {
        Ok(bytes) => bytes,
        Err(e) => panic!("decoded shard does not re-encode: {e}"),
    };
    let again = match decode_shard(&bytes) {
        Ok(again) => again,
        Err(e) => panic!("re-encoded shard does not decode: {e}"),
    };
    assert_eq!(again.dtype, shard.dtype);
    assert_eq!(
        again.to_owned_shard(),
        owned,
        "shard changed across encode/decode"
    );
    // Canonical: encoding the re-decoded shard gives the same bytes again.
    let third = encode_shard(&again.to_owned_shard()).expect("re-decoded shard encodes");
    assert_eq!(third, bytes, "encoding is not deterministic");
}
