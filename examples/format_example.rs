//! Builds the tiny shard used as the worked example in `docs/FORMAT.md` and prints an annotated
//! hex dump of it, a sample manifest that lists it, and the XXH3-64 test vector.
//!
//! Run with `cargo run --example format_example`. If the output changes, update FORMAT.md.

use s3vec::format::manifest::ShardEntry;
use s3vec::format::{
    Document, Dtype, Manifest, Shard, ShardVectors, checksum, decode_shard, encode_shard,
};
use serde_json::{Map, Value};

/// Prints `bytes[start..start + len]` as one annotated line per field (16 bytes per line at most).
fn field(bytes: &[u8], start: usize, len: usize, meaning: &str) {
    if len == 0 {
        println!("{start:08x}  {:<48}  {meaning}", "(0 bytes)");
        return;
    }
    for (i, chunk) in bytes[start..start + len].chunks(16).enumerate() {
        let hex: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
        let note = if i == 0 { meaning } else { "  (continued)" };
        println!("{:08x}  {:<48}  {note}", start + i * 16, hex.join(" "));
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// Annotates a string table section: the offsets, then each entry's bytes.
fn table(bytes: &[u8], start: usize, count: usize, name: &str) {
    for i in 0..=count {
        let end = u32_at(bytes, start + i * 4);
        let what = if i == 0 {
            format!("{name}: offset[0] = {end} (always 0)")
        } else {
            format!("{name}: offset[{i}] = {end} (end of entry {})", i - 1)
        };
        field(bytes, start + i * 4, 4, &what);
    }
    let data = start + (count + 1) * 4;
    let mut from = 0usize;
    for i in 0..count {
        let end = u32_at(bytes, start + (i + 1) * 4) as usize;
        let entry = &bytes[data + from..data + end];
        let what = if entry.is_empty() {
            format!("{name}: entry {i} is empty (absent)")
        } else {
            format!(
                "{name}: entry {i} = {:?}",
                String::from_utf8_lossy(entry).into_owned()
            )
        };
        field(bytes, data + from, end - from, &what);
        from = end;
    }
}

fn main() {
    let mut meta = Map::new();
    meta.insert("lang".into(), Value::String("en".into()));
    let shard = Shard {
        dims: 3,
        vectors: ShardVectors::F32(vec![1.0, 0.5, -0.25, 0.0, -1.0, 2.0]),
        docs: vec![
            Document {
                id: "a".into(),
                metadata: Some(meta),
                text: None,
            },
            Document {
                id: "b".into(),
                metadata: None,
                text: Some("hi".into()),
            },
        ],
    };
    let bytes = encode_shard(&shard).expect("the example shard is valid");
    let decoded = decode_shard(&bytes).expect("our own shard decodes");
    assert_eq!(decoded.to_owned_shard(), shard);

    println!("== Shard: dims 3, f32, 2 documents, {} bytes", bytes.len());
    println!("vectors: a = [1.0, 0.5, -0.25], b = [0.0, -1.0, 2.0]");
    println!("a: metadata {{\"lang\":\"en\"}}, no text; b: no metadata, text \"hi\"");
    println!();
    println!("-- plain dump");
    for (i, chunk) in bytes.chunks(16).enumerate() {
        let hex: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
        let ascii: String = chunk
            .iter()
            .map(|&b| {
                if b.is_ascii_graphic() || b == b' ' {
                    b as char
                } else {
                    '.'
                }
            })
            .collect();
        println!("{:08x}  {:<48}  |{ascii}|", i * 16, hex.join(" "));
    }
    println!();
    println!("-- annotated");
    println!("offset    bytes                                             meaning");
    field(&bytes, 0, 8, "magic \"S3VSHARD\"");
    field(
        &bytes,
        8,
        8,
        &format!(
            "checksum: XXH3-64 of bytes [16, {}) = 0x{:016x}, u64 LE",
            bytes.len(),
            u64_at(&bytes, 8)
        ),
    );
    field(&bytes, 16, 2, "version = 1, u16 LE");
    field(&bytes, 18, 1, &format!("dtype code = {} (f32)", bytes[18]));
    field(&bytes, 19, 1, "reserved, must be 0");
    field(
        &bytes,
        20,
        4,
        &format!("dims = {}, u32 LE", u32_at(&bytes, 20)),
    );
    field(
        &bytes,
        24,
        4,
        &format!("count = {}, u32 LE", u32_at(&bytes, 24)),
    );
    field(&bytes, 28, 4, "reserved, must be 0");
    let names = ["vectors", "scales", "ids", "metadata", "text"];
    let mut sections = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let at = 32 + i * 16;
        let (offset, length) = (u64_at(&bytes, at), u64_at(&bytes, at + 8));
        field(
            &bytes,
            at,
            8,
            &format!("section table [{i}] {name}: offset = {offset}, u64 LE"),
        );
        field(
            &bytes,
            at + 8,
            8,
            &format!("section table [{i}] {name}: length = {length}, u64 LE"),
        );
        sections.push((offset as usize, length as usize));
    }
    field(&bytes, 112, 16, "reserved, must be 0 (header ends at 128)");
    let mut end = 128usize;
    for (i, &(offset, length)) in sections.iter().enumerate() {
        if offset > end {
            field(
                &bytes,
                end,
                offset - end,
                &format!("padding (zero) before the {} section", names[i]),
            );
        }
        match i {
            0 => {
                for (row, chunk) in bytes[offset..offset + length].chunks(4).enumerate() {
                    let x = f32::from_le_bytes(chunk.try_into().unwrap());
                    field(
                        &bytes,
                        offset + row * 4,
                        4,
                        &format!("vectors: doc {} dim {} = {x:?} (f32 LE)", row / 3, row % 3),
                    );
                }
            }
            1 => field(&bytes, offset, length, "scales: empty (only i8 has scales)"),
            2 => table(&bytes, offset, 2, "ids"),
            3 => table(&bytes, offset, 2, "metadata"),
            _ => table(&bytes, offset, 2, "text"),
        }
        end = offset + length;
    }
    println!(
        "{:08x}  (end of shard: nothing follows the text section)",
        end
    );

    // The same vectors in the other two encodings: only the vectors and scales sections differ.
    println!();
    println!("== The same two vectors as i8 and as binary (vectors and scales sections only)");
    let vectors = [[1.0f32, 0.5, -0.25], [0.0, -1.0, 2.0]];
    let mut codes = Vec::new();
    let mut scales = Vec::new();
    let mut bits = Vec::new();
    for v in &vectors {
        let max_abs = v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        let scale = max_abs / 127.0;
        let inv = 127.0 / max_abs;
        codes.extend(
            v.iter()
                .map(|x| (x * inv).round().clamp(-127.0, 127.0) as i8),
        );
        scales.push(scale);
        let mut byte = 0u8;
        for (d, &x) in v.iter().enumerate() {
            if x > 0.0 {
                byte |= 0x80 >> d;
            }
        }
        bits.push(byte);
    }
    for (dtype, vectors) in [
        (
            Dtype::I8,
            ShardVectors::I8 {
                codes: codes.clone(),
                scales: scales.clone(),
            },
        ),
        (Dtype::Binary, ShardVectors::Binary(bits.clone())),
    ] {
        let s = Shard {
            dims: 3,
            vectors,
            docs: shard.docs.clone(),
        };
        let b = encode_shard(&s).expect("valid");
        decode_shard(&b).expect("decodes");
        println!(
            "-- {dtype} (dtype code {}), {} bytes in all",
            dtype.code(),
            b.len()
        );
        let (vo, vl) = (u64_at(&b, 32) as usize, u64_at(&b, 40) as usize);
        let (so, sl) = (u64_at(&b, 48) as usize, u64_at(&b, 56) as usize);
        if dtype == Dtype::I8 {
            for row in 0..2 {
                let c: Vec<i8> = b[vo + row * 3..vo + row * 3 + 3]
                    .iter()
                    .map(|&x| x as i8)
                    .collect();
                field(
                    &b,
                    vo + row * 3,
                    3,
                    &format!("vectors: doc {row} codes {c:?}"),
                );
            }
            if so > vo + vl {
                field(&b, vo + vl, so - (vo + vl), "padding (zero) to 8");
            }
            for row in 0..2 {
                let s = f32::from_le_bytes(b[so + row * 4..so + row * 4 + 4].try_into().unwrap());
                field(
                    &b,
                    so + row * 4,
                    4,
                    &format!("scales: doc {row} scale = {s:?} (f32 LE) = max|x|/127"),
                );
            }
        } else {
            for row in 0..2 {
                field(
                    &b,
                    vo + row,
                    1,
                    &format!(
                        "vectors: doc {row} bits {:08b} (dims 0,1,2 = bits 7,6,5; bits 4..0 zero)",
                        b[vo + row]
                    ),
                );
            }
            if so > vo + vl {
                field(&b, vo + vl, so - (vo + vl), "padding (zero) to 8");
            }
            field(&b, so, sl, "scales: empty");
        }
    }

    println!();
    println!("== Sample manifest listing the f32 shard");
    let mut manifest = Manifest::new("amazon.titan-embed-text-v2:0", 3, Dtype::F32);
    manifest.generation = 1;
    manifest.shards.push(ShardEntry {
        key: format!("shards/000001-{:016x}.s3vs", decoded.checksum),
        count: decoded.len() as u64,
        bytes: bytes.len() as u64,
        checksum: ShardEntry::format_checksum(decoded.checksum),
    });
    let json = manifest.to_json();
    let back = Manifest::decode(&json).expect("our own manifest decodes");
    assert_eq!(back, manifest);
    manifest
        .check_shard(&manifest.shards[0], &decoded, bytes.len())
        .expect("the manifest entry matches the shard");
    println!("{}", String::from_utf8(json).expect("JSON is UTF-8"));

    println!();
    println!("== XXH3-64 (seed 0) test vectors");
    println!("xxh3_64(\"\")         = 0x{:016x}", checksum(b""));
    println!("xxh3_64(\"S3VSHARD\") = 0x{:016x}", checksum(b"S3VSHARD"));
    println!(
        "xxh3_64(example shard bytes [16, {})) = 0x{:016x}",
        bytes.len(),
        checksum(&bytes[16..])
    );
}
