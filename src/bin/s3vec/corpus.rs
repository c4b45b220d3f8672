//! Reading a corpus: JSON Lines, one `{"id", "text", "metadata"?}` per line, from a file, a
//! `.gz` file or standard input. Bad lines are collected with their numbers, never dropped
//! silently; a repeated id keeps its last line (the rule a re-run of an edited corpus wants).

use crate::{CliResult, Failure};
use flate2::read::MultiGzDecoder;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};

/// One document to index.
#[derive(Clone, Debug, PartialEq)]
pub struct Doc {
    pub id: String,
    pub text: String,
    pub metadata: Option<Map<String, Value>>,
    /// 1-based line number in the input.
    pub line: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub struct BadLine {
    pub line: usize,
    pub reason: String,
}

#[derive(Debug, Default)]
pub struct Corpus {
    /// In order of each id's first line, with the content of its last.
    pub docs: Vec<Doc>,
    pub bad: Vec<BadLine>,
    /// (id, earlier line, line that replaced it).
    pub duplicates: Vec<(String, usize, usize)>,
    pub lines: usize,
}

/// Ids are object-key-safe strings of 1 to 1024 bytes (the manifest's rule for tombstones).
const MAX_ID_BYTES: usize = 1024;

pub fn open(path: &str) -> CliResult<Box<dyn Read>> {
    let raw: Box<dyn Read> = if path == "-" {
        Box::new(std::io::stdin())
    } else {
        Box::new(
            std::fs::File::open(path)
                .map_err(|e| Failure::Usage(format!("cannot open corpus {path}: {e}")))?,
        )
    };
    let mut reader = BufReader::new(raw);
    // Sniff gzip by its magic rather than the name, so stdin can be compressed too.
    let head = reader
        .fill_buf()
        .map_err(|e| Failure::Other(format!("cannot read corpus {path}: {e}")))?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(MultiGzDecoder::new(reader)))
    } else {
        Ok(Box::new(reader))
    }
}

/// Parses every line; `max_chars` is the model's input limit.
pub fn read(input: impl Read, max_chars: usize) -> CliResult<Corpus> {
    let mut corpus = Corpus::default();
    let mut at: HashMap<String, usize> = HashMap::new();
    for (i, line) in BufReader::new(input).lines().enumerate() {
        let number = i + 1;
        corpus.lines = number;
        let line = match line {
            Ok(l) => l,
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                corpus.bad.push(BadLine {
                    line: number,
                    reason: "not valid UTF-8".into(),
                });
                continue;
            }
            Err(e) => {
                return Err(Failure::Other(format!(
                    "reading the corpus failed at line {number}: {e}"
                )));
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        match parse_line(&line, max_chars) {
            Ok((id, text, metadata)) => {
                let doc = Doc {
                    id: id.clone(),
                    text,
                    metadata,
                    line: number,
                };
                match at.get(&id) {
                    Some(&slot) => {
                        corpus.duplicates.push((id, corpus.docs[slot].line, number));
                        corpus.docs[slot] = doc;
                    }
                    None => {
                        at.insert(id, corpus.docs.len());
                        corpus.docs.push(doc);
                    }
                }
            }
            Err(reason) => corpus.bad.push(BadLine {
                line: number,
                reason,
            }),
        }
    }
    Ok(corpus)
}

type Parsed = (String, String, Option<Map<String, Value>>);

fn parse_line(line: &str, max_chars: usize) -> Result<Parsed, String> {
    let value: Value = serde_json::from_str(line).map_err(|e| format!("not a JSON object: {e}"))?;
    let Value::Object(mut object) = value else {
        return Err("not a JSON object".into());
    };
    let id = match object.remove("id") {
        Some(Value::String(s)) => s,
        // Numeric ids are common in exported datasets; keep their decimal form.
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => return Err("\"id\" must be a string or a number".into()),
        None => return Err("missing \"id\"".into()),
    };
    if id.is_empty() || id.len() > MAX_ID_BYTES || id.chars().any(char::is_control) {
        return Err(format!(
            "id {id:?} must be 1 to {MAX_ID_BYTES} bytes without control characters"
        ));
    }
    let text = match object.remove("text") {
        Some(Value::String(s)) if !s.trim().is_empty() => s,
        Some(Value::String(_)) => return Err(format!("id {id:?}: \"text\" is empty")),
        Some(_) => return Err(format!("id {id:?}: \"text\" must be a string")),
        None => return Err(format!("id {id:?}: missing \"text\"")),
    };
    let chars = text.chars().count();
    if chars > max_chars {
        return Err(format!(
            "id {id:?}: text has {chars} characters, over the model's limit of {max_chars}; split or shorten it"
        ));
    }
    let metadata = match object.remove("metadata") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(m),
        Some(_) => return Err(format!("id {id:?}: \"metadata\" must be a JSON object")),
    };
    Ok((id, text, metadata))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_good_lines_reports_bad_ones_and_keeps_the_last_duplicate() {
        let input = concat!(
            "{\"id\":\"a\",\"text\":\"alpha\",\"metadata\":{\"n\":1}}\n",
            "not json\n",
            "\n",
            "{\"text\":\"no id\"}\n",
            "{\"id\":7,\"text\":\"seven\"}\n",
            "{\"id\":\"b\",\"text\":\"\"}\n",
            "{\"id\":\"a\",\"text\":\"alpha again\"}\n",
            "{\"id\":\"c\",\"text\":\"0123456789XY\"}\n",
            "[1,2]\n",
            "{\"id\":\"d\",\"text\":\"delta\",\"metadata\":[1]}\n",
        );
        // "alpha again" is 11 characters: at the limit, accepted; line 8 is one over.
        let c = read(input.as_bytes(), 11).unwrap();
        let ids: Vec<&str> = c.docs.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["a", "7"]);
        assert_eq!(c.docs[0].text, "alpha again");
        assert_eq!(c.docs[0].line, 7);
        assert_eq!(c.duplicates, [("a".to_string(), 1, 7)]);
        let bad: Vec<usize> = c.bad.iter().map(|b| b.line).collect();
        assert_eq!(bad, [2, 4, 6, 8, 9, 10]);
        assert!(
            c.bad[3]
                .reason
                .contains("12 characters, over the model's limit of 11")
        );
        assert_eq!(c.lines, 10);
    }
}
