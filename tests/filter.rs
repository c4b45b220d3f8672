//! Metadata filters: the syntax, its semantics, and errors that say how to fix the filter.

use s3vec::filter::Filter;
use serde_json::{Value, json};
use wasm_bindgen_test::wasm_bindgen_test;

fn matches(filter: Value, metadata: Value) -> bool {
    Filter::parse(&filter)
        .unwrap()
        .matches(metadata.as_object())
}

fn parse_err(filter: Value) -> String {
    Filter::parse(&filter).unwrap_err().to_string()
}

#[wasm_bindgen_test(unsupported = test)]
fn equality_shorthand_and_operators() {
    let doc = json!({"section": "graphics", "size": 120, "ratio": 0.5, "tags": ["gui", "x11"], "pkg": {"arch": "amd64"}});
    assert!(matches(json!({"section": "graphics"}), doc.clone()));
    assert!(!matches(json!({"section": "utils"}), doc.clone()));
    assert!(
        matches(json!({"size": 120.0}), doc.clone()),
        "1 and 1.0 are equal numbers"
    );
    assert!(matches(json!({"size": {"$eq": 120}}), doc.clone()));
    assert!(matches(json!({"size": {"$ne": 121}}), doc.clone()));
    assert!(matches(
        json!({"section": {"$in": ["utils", "graphics"]}}),
        doc.clone()
    ));
    assert!(matches(
        json!({"section": {"$nin": ["utils"]}}),
        doc.clone()
    ));
    assert!(
        matches(json!({"tags": "gui"}), doc.clone()),
        "an array field matches any element"
    );
    assert!(matches(
        json!({"tags": {"$in": ["x11", "qt"]}}),
        doc.clone()
    ));
    assert!(!matches(json!({"tags": {"$nin": ["x11"]}}), doc.clone()));
    assert!(
        matches(json!({"pkg.arch": "amd64"}), doc.clone()),
        "dotted paths reach nested objects"
    );
    assert!(matches(
        json!({"size": {"$gte": 120, "$lt": 121}}),
        doc.clone()
    ));
    assert!(!matches(json!({"size": {"$gt": 120}}), doc.clone()));
    assert!(matches(json!({"ratio": {"$lte": 0.5}}), doc.clone()));
    assert!(
        matches(json!({"section": {"$gt": "a", "$lt": "h"}}), doc.clone()),
        "strings compare by code point"
    );
    assert!(
        !matches(json!({"section": {"$gt": 5}}), doc.clone()),
        "a string is never compared with a number"
    );
    assert!(matches(
        json!({"size": {"$exists": true}, "missing": {"$exists": false}}),
        doc
    ));
}

#[wasm_bindgen_test(unsupported = test)]
fn logic_and_missing_fields() {
    let doc = json!({"section": "graphics", "size": 120});
    assert!(matches(
        json!({"$or": [{"section": "utils"}, {"size": {"$lt": 200}}]}),
        doc.clone()
    ));
    assert!(!matches(
        json!({"$and": [{"section": "graphics"}, {"size": {"$gt": 200}}]}),
        doc.clone()
    ));
    assert!(matches(json!({"$not": {"section": "utils"}}), doc.clone()));
    assert!(
        !matches(json!({"section": "graphics", "size": 1}), doc.clone()),
        "keys in one object are ANDed"
    );
    assert!(!matches(json!({"missing": 1}), doc.clone()));
    assert!(!matches(json!({"missing": {"$gt": 0}}), doc.clone()));
    assert!(matches(json!({"missing": {"$ne": 1}}), doc.clone()));
    assert!(matches(json!({"missing": {"$nin": [1]}}), doc));
    let f = Filter::parse(&json!({"section": "graphics"})).unwrap();
    assert!(
        !f.matches(None),
        "a document without metadata matches like {{}}"
    );
    assert!(
        Filter::parse(&json!({"a": {"$ne": 1}}))
            .unwrap()
            .matches(None)
    );
}

#[wasm_bindgen_test(unsupported = test)]
fn bad_filters_say_what_to_write_instead() {
    assert!(parse_err(json!("graphics")).contains("a JSON object like"));
    assert!(
        parse_err(json!({"size": {"$between": [1, 2]}}))
            .contains("unknown operator \"$between\" on \"size\"; expected one of $eq")
    );
    assert!(parse_err(json!({"$nor": []})).contains("use $and, $or or $not"));
    assert!(
        parse_err(json!({"$or": {"a": 1}}))
            .contains("$or takes an array of filters, not an object")
    );
    assert!(parse_err(json!({"$and": []})).contains("at least one"));
    assert!(
        parse_err(json!({"a": {"$in": "x"}})).contains("$in on \"a\" takes an array, not a string")
    );
    assert!(
        parse_err(json!({"a": {"$gt": [1]}})).contains("compares numbers or strings, not an array")
    );
    assert!(parse_err(json!({"a": {"$exists": 1}})).contains("true or false"));
    assert!(
        parse_err(json!({"$or": [{"a": {"$bad": 1}}]})).contains("$bad"),
        "errors inside logic surface too"
    );
}
