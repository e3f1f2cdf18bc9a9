//! A record's details: typed fields, or any JSON value.
//!
//! Most observations a model records are a handful of numbers and short
//! strings (`commit {index, term, digest, entry}`), made tens of thousands
//! of times a run. [`Detail::fields`] keeps them as typed [`Field`]s with
//! static keys: no JSON object is built to record, hash or read one. The
//! JSON value is built only when something asks for it (a trace file, a
//! report, a reader using the `serde_json::Value` API through `Deref`), once,
//! and kept.
//!
//! Both forms hash alike: a detail built from fields folds into the trace
//! hash exactly the words its JSON value would (see [`hash_json`]), so a
//! model may move a record from `json!` to fields without changing a single
//! trace hash.

use crate::hash::TraceHasher;
use serde_json::Value as Json;
use std::borrow::Cow;
use std::cell::OnceCell;
use std::fmt;
use std::ops::Deref;

/// What a record says it is (`"commit"`, `"leader"`): most often a string
/// constant of the model, kept without a copy; any other string is owned.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct RecordKind(Cow<'static, str>);

impl RecordKind {
    /// The kind as a string.
    #[inline]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True if both are the same string constant (same address and
    /// length): a quick test of equality that may miss equal strings.
    #[inline]
    pub fn same_constant(&self, other: &RecordKind) -> bool {
        match (&self.0, &other.0) {
            (Cow::Borrowed(a), Cow::Borrowed(b)) => std::ptr::eq(*a, *b),
            _ => false,
        }
    }
}

impl Deref for RecordKind {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<&'static str> for RecordKind {
    fn from(kind: &'static str) -> RecordKind {
        RecordKind(Cow::Borrowed(kind))
    }
}

impl From<String> for RecordKind {
    fn from(kind: String) -> RecordKind {
        RecordKind(Cow::Owned(kind))
    }
}

impl PartialEq<str> for RecordKind {
    fn eq(&self, other: &str) -> bool {
        *self.0 == *other
    }
}

impl PartialEq<&str> for RecordKind {
    fn eq(&self, other: &&str) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<String> for RecordKind {
    fn eq(&self, other: &String) -> bool {
        *self.0 == **other
    }
}

impl fmt::Debug for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One typed value of a [`Detail`], as it reads in JSON.
#[derive(Clone, Debug, PartialEq)]
pub enum Field {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A non-negative integer.
    U64(u64),
    /// An integer.
    I64(i64),
    /// A float (`null` in JSON when not finite, as `serde_json` writes it).
    F64(f64),
    /// A string known at compile time.
    Str(&'static str),
    /// A string.
    String(Box<str>),
    /// A 64-bit digest, read as its 16 lowercase hex digits.
    Hex(Hex16),
    /// Any other JSON value (arrays, objects).
    Json(Json),
}

/// `a == b` as strings, for finding a field: keys of the same length
/// nearly always differ in their first byte, which decides without a call
/// to compare the rest.
#[inline]
fn same_key(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.as_bytes().first() == b.as_bytes().first() && a == b
}

/// `a < b` as strings, for checking that a detail's keys come sorted:
/// keys nearly always differ in their first byte, which decides without
/// a call to compare the rest.
#[inline]
fn key_before(a: &str, b: &str) -> bool {
    match (a.as_bytes().first(), b.as_bytes().first()) {
        (Some(x), Some(y)) if x != y => x < y,
        _ => a < b,
    }
}

/// A 64-bit number and its 16 lowercase hex digits, kept together so the
/// text can be borrowed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Hex16 {
    value: u64,
    text: [u8; 16],
}

impl Hex16 {
    /// `value` as `format!("{value:016x}")` spells it.
    pub fn new(value: u64) -> Hex16 {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut text = [0u8; 16];
        for (i, byte) in text.iter_mut().enumerate() {
            *byte = DIGITS[((value >> (60 - 4 * i)) & 0xf) as usize];
        }
        Hex16 { value, text }
    }

    /// The number.
    pub fn value(&self) -> u64 {
        self.value
    }

    /// The 16 hex digits.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.text).expect("hex digits are ASCII")
    }
}

impl fmt::Debug for Hex16 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Field {
    /// The value as JSON.
    pub fn to_json(&self) -> Json {
        match self {
            Field::Null => Json::Null,
            Field::Bool(b) => Json::Bool(*b),
            Field::U64(u) => Json::from(*u),
            Field::I64(i) => Json::from(*i),
            Field::F64(x) => Json::from(*x),
            Field::Str(s) => Json::String((*s).to_string()),
            Field::String(s) => Json::String(s.to_string()),
            Field::Hex(h) => Json::String(h.as_str().to_string()),
            Field::Json(v) => v.clone(),
        }
    }

    /// Folds the value into `h` as [`hash_json`] folds its JSON value.
    fn hash_into(&self, h: &mut TraceHasher) {
        match self {
            Field::Null => h.word(0),
            Field::Bool(b) => h.words(&[1, u64::from(*b)]),
            Field::U64(u) => h.words(&[2, *u]),
            Field::I64(i) if *i >= 0 => h.words(&[2, *i as u64]),
            Field::I64(i) => h.words(&[3, *i as u64]),
            // serde_json keeps a finite float as a float (never as an
            // integer) and writes a non-finite one as null.
            Field::F64(x) if x.is_finite() => h.words(&[4, x.to_bits()]),
            Field::F64(_) => h.word(0),
            Field::Str(s) => hash_str(s, h),
            Field::String(s) => hash_str(s, h),
            Field::Hex(x) => {
                h.word(5);
                h.bytes(&x.text);
            }
            Field::Json(v) => hash_json(v, h),
        }
    }

    fn as_u64(&self) -> Option<u64> {
        match self {
            Field::U64(u) => Some(*u),
            Field::I64(i) => u64::try_from(*i).ok(),
            Field::Json(v) => v.as_u64(),
            _ => None,
        }
    }

    fn as_i64(&self) -> Option<i64> {
        match self {
            Field::U64(u) => i64::try_from(*u).ok(),
            Field::I64(i) => Some(*i),
            Field::Json(v) => v.as_i64(),
            _ => None,
        }
    }

    fn as_str(&self) -> Option<&str> {
        match self {
            Field::Str(s) => Some(s),
            Field::String(s) => Some(s),
            Field::Hex(h) => Some(h.as_str()),
            Field::Json(v) => v.as_str(),
            _ => None,
        }
    }
}

impl From<u64> for Field {
    fn from(u: u64) -> Field {
        Field::U64(u)
    }
}
impl From<u32> for Field {
    fn from(u: u32) -> Field {
        Field::U64(u64::from(u))
    }
}
impl From<i64> for Field {
    fn from(i: i64) -> Field {
        Field::I64(i)
    }
}
impl From<bool> for Field {
    fn from(b: bool) -> Field {
        Field::Bool(b)
    }
}
impl From<f64> for Field {
    fn from(x: f64) -> Field {
        Field::F64(x)
    }
}
impl From<&'static str> for Field {
    fn from(s: &'static str) -> Field {
        Field::Str(s)
    }
}
impl From<String> for Field {
    fn from(s: String) -> Field {
        Field::String(s.into_boxed_str())
    }
}
impl From<crate::history::Value> for Field {
    /// As the history value writes in JSON: `null`, a number, a string, an array.
    fn from(v: crate::history::Value) -> Field {
        use crate::history::Value;
        match v {
            Value::Nil => Field::Null,
            Value::Int(i) => Field::I64(i),
            Value::Str(s) => Field::from(s),
            list @ Value::List(_) => {
                Field::Json(serde_json::to_value(list).expect("a history value is JSON"))
            }
        }
    }
}
impl From<Json> for Field {
    fn from(v: Json) -> Field {
        Field::Json(v)
    }
}

/// What a record says beyond its kind: a JSON value, or typed fields that
/// read, hash and print as the JSON object they stand for.
///
/// Read it as a `serde_json::Value` (it derefs to one, built on first use
/// and kept), or without building JSON through [`Detail::u64`],
/// [`Detail::i64`], [`Detail::str`] and [`Detail::hex`].
#[derive(Clone)]
pub struct Detail {
    /// Typed fields sorted by key (JSON's object order), if built from fields.
    fields: Option<Vec<(&'static str, Field)>>,
    /// The JSON value: given, or built from `fields` when first asked for.
    json: OnceCell<Json>,
}

impl Detail {
    /// A detail of typed fields (an object). The keys must differ; given
    /// in sorted order (as JSON keeps them) they are taken as they are,
    /// otherwise they are sorted first.
    pub fn fields(mut fields: Vec<(&'static str, Field)>) -> Detail {
        if !fields.is_sorted_by(|a, b| key_before(a.0, b.0)) {
            fields.sort_unstable_by_key(|(key, _)| *key);
        }
        debug_assert!(
            fields.windows(2).all(|w| w[0].0 != w[1].0),
            "a record detail names a field twice: {fields:?}"
        );
        Detail {
            fields: Some(fields),
            json: OnceCell::new(),
        }
    }

    /// The detail as a JSON value (a copy).
    pub fn to_json(&self) -> Json {
        (**self).clone()
    }

    /// True if the detail was built from typed fields ([`Detail::fields`]).
    pub fn is_typed(&self) -> bool {
        self.fields.is_some()
    }

    /// The typed field `key`, if built from fields and it has one (`None`
    /// for a JSON detail: read that through its value).
    pub fn typed(&self, key: &str) -> Option<&Field> {
        // A handful of fields: a scan beats a binary search.
        let fields = self.fields.as_ref()?;
        fields
            .iter()
            .find(|(k, _)| same_key(k, key))
            .map(|(_, field)| field)
    }

    /// Field `key` as a non-negative integer, if it is one.
    pub fn u64(&self, key: &str) -> Option<u64> {
        match &self.fields {
            Some(_) => self.typed(key)?.as_u64(),
            None => self.get(key)?.as_u64(),
        }
    }

    /// Field `key` as an integer, if it is one.
    pub fn i64(&self, key: &str) -> Option<i64> {
        match &self.fields {
            Some(_) => self.typed(key)?.as_i64(),
            None => self.get(key)?.as_i64(),
        }
    }

    /// Field `key` as a string, if it is one.
    pub fn str(&self, key: &str) -> Option<&str> {
        match &self.fields {
            Some(_) => self.typed(key)?.as_str(),
            None => self.get(key)?.as_str(),
        }
    }

    /// Field `key` as a 64-bit digest, if it is exactly 16 lowercase hex
    /// digits.
    pub fn hex(&self, key: &str) -> Option<u64> {
        if let Some(Field::Hex(h)) = self.typed(key) {
            return Some(h.value());
        }
        parse_hex16(self.str(key)?)
    }

    /// Sets field `key` (replacing it if there), as `detail[key] = value`
    /// does on a JSON object; a `null` detail becomes an object first.
    /// Panics (as `serde_json` does) if the detail is JSON but not an
    /// object or null.
    pub fn set(&mut self, key: &'static str, value: Field) {
        match &mut self.fields {
            Some(fields) => {
                match fields.binary_search_by(|(k, _)| (*k).cmp(key)) {
                    Ok(i) => fields[i].1 = value,
                    Err(i) => fields.insert(i, (key, value)),
                }
                self.json = OnceCell::new();
            }
            None => {
                let json = self.json.get_mut().expect("a JSON detail has its value");
                json[key] = value.to_json();
            }
        }
    }

    /// Folds the detail into `h`: the words of [`hash_json`] on its JSON
    /// value, without building it.
    pub fn hash_into(&self, h: &mut TraceHasher) {
        match &self.fields {
            Some(fields) => {
                h.words(&[7, fields.len() as u64]);
                for (key, field) in fields {
                    h.bytes(key.as_bytes());
                    field.hash_into(h);
                }
            }
            None => hash_json(self, h),
        }
    }
}

impl From<Json> for Detail {
    fn from(json: Json) -> Detail {
        Detail {
            fields: None,
            json: OnceCell::from(json),
        }
    }
}

impl Default for Detail {
    /// `null`.
    fn default() -> Detail {
        Detail::from(Json::Null)
    }
}

impl Deref for Detail {
    type Target = Json;

    /// The JSON value (built from the fields on first use).
    fn deref(&self) -> &Json {
        self.json.get_or_init(|| {
            let fields = self
                .fields
                .as_ref()
                .expect("a detail without JSON has fields");
            Json::Object(
                fields
                    .iter()
                    .map(|(key, field)| ((*key).to_string(), field.to_json()))
                    .collect(),
            )
        })
    }
}

impl PartialEq for Detail {
    /// Equal when their JSON values are.
    fn eq(&self, other: &Detail) -> bool {
        **self == **other
    }
}

impl PartialEq<Json> for Detail {
    fn eq(&self, other: &Json) -> bool {
        **self == *other
    }
}

impl fmt::Debug for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl fmt::Display for Detail {
    /// As compact JSON.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

/// `Some(n)` iff `text` is exactly `format!("{n:016x}")`.
pub fn parse_hex16(text: &str) -> Option<u64> {
    let lower_hex = |b: &u8| b.is_ascii_digit() || (b'a'..=b'f').contains(b);
    if text.len() != 16 || !text.as_bytes().iter().all(lower_hex) {
        return None;
    }
    u64::from_str_radix(text, 16).ok()
}

fn hash_str(s: &str, h: &mut TraceHasher) {
    h.word(5);
    h.bytes(s.as_bytes());
}

/// Folds a JSON value into `h` by its structure (no text is built): a tag
/// per kind, then the contents; object keys come in sorted order.
pub fn hash_json(value: &Json, h: &mut TraceHasher) {
    match value {
        Json::Null => h.word(0),
        Json::Bool(b) => h.words(&[1, u64::from(*b)]),
        Json::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => h.words(&[2, u]),
            (None, Some(i)) => h.words(&[3, i as u64]),
            _ => h.words(&[4, n.as_f64().unwrap_or(0.0).to_bits()]),
        },
        Json::String(s) => hash_str(s, h),
        Json::Array(items) => {
            h.words(&[6, items.len() as u64]);
            items.iter().for_each(|item| hash_json(item, h));
        }
        Json::Object(map) => {
            h.words(&[7, map.len() as u64]);
            for (key, item) in map {
                h.bytes(key.as_bytes());
                hash_json(item, h);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn hash_of_detail(d: &Detail) -> u64 {
        let mut h = TraceHasher::default();
        d.hash_into(&mut h);
        h.finish()
    }

    fn hash_of_json(v: &Json) -> u64 {
        let mut h = TraceHasher::default();
        hash_json(v, &mut h);
        h.finish()
    }

    fn sample() -> Detail {
        Detail::fields(vec![
            ("term", Field::U64(7)),
            ("digest", Field::Hex(Hex16::new(0x00ab_cdef_0123_4567))),
            ("entry", Field::from("put k1 = 3".to_string())),
            ("neg", Field::I64(-5)),
            ("pos", Field::I64(5)),
            ("ratio", Field::F64(0.25)),
            ("nan", Field::F64(f64::NAN)),
            ("whole", Field::F64(3.0)),
            ("ok", Field::Bool(true)),
            ("none", Field::Null),
            ("kind", Field::Str("noop")),
            ("list", Field::Json(json!([1, "a", null]))),
        ])
    }

    #[test]
    fn key_order_and_equality_are_the_strings() {
        let keys = [
            "",
            "a",
            "ab",
            "b",
            "end_true_ns",
            "entry",
            "index",
            "é",
            "ü",
        ];
        for a in keys {
            for b in keys {
                assert_eq!(key_before(a, b), a < b, "{a:?} < {b:?}");
                assert_eq!(same_key(a, b), a == b, "{a:?} == {b:?}");
            }
        }
        // Fields given out of order are sorted; same first byte included.
        let d = Detail::fields(vec![("entry", Field::U64(1)), ("end", Field::U64(2))]);
        assert_eq!(d.to_string(), r#"{"end":2,"entry":1}"#);
    }

    #[test]
    fn fields_hash_and_read_as_their_json() {
        let d = sample();
        let expected = json!({
            "term": 7, "digest": "00abcdef01234567", "entry": "put k1 = 3",
            "neg": -5, "pos": 5, "ratio": 0.25, "nan": null, "whole": 3.0, "ok": true,
            "none": null, "kind": "noop", "list": [1, "a", null],
        });
        assert_eq!(hash_of_detail(&d), hash_of_json(&expected));
        let from_json = Detail::from(expected.clone());
        assert_eq!(hash_of_detail(&from_json), hash_of_json(&expected));
        assert_eq!(*d, expected);
        assert_eq!(d.to_string(), expected.to_string());
        for detail in [&d, &from_json] {
            assert_eq!(detail.u64("term"), Some(7));
            assert_eq!(detail.u64("neg"), None);
            assert_eq!(detail.i64("neg"), Some(-5));
            assert_eq!(detail.u64("pos"), Some(5));
            assert_eq!(detail.str("entry"), Some("put k1 = 3"));
            assert_eq!(detail.str("digest"), Some("00abcdef01234567"));
            assert_eq!(detail.hex("digest"), Some(0x00ab_cdef_0123_4567));
            assert_eq!(detail.hex("entry"), None);
            assert_eq!(detail.u64("missing"), None);
        }
    }

    #[test]
    fn set_replaces_or_adds_in_both_forms() {
        let mut d = Detail::fields(vec![("b", Field::U64(1))]);
        let _ = d.to_string(); // the cached JSON must not go stale
        d.set("a", Field::U64(0));
        d.set("b", Field::U64(2));
        assert_eq!(*d, json!({"a": 0, "b": 2}));
        let mut j = Detail::default();
        j.set("a", Field::U64(0));
        assert_eq!(*j, json!({"a": 0}));
        assert_eq!(hash_of_detail(&d), hash_of_json(&json!({"a": 0, "b": 2})));
    }

    #[test]
    fn history_values_become_fields_that_read_as_their_json() {
        use crate::history::Value;
        let values = [
            Value::Nil,
            Value::Int(-3),
            Value::Int(4),
            Value::Str("a\"b".into()),
            Value::List(vec![Value::Int(1), Value::Nil, Value::Str("x".into())]),
        ];
        for value in values {
            let json = serde_json::to_value(&value).unwrap();
            let field = Field::from(value);
            assert_eq!(field.to_json(), json);
            let d = Detail::fields(vec![("value", field)]);
            assert_eq!(hash_of_detail(&d), hash_of_json(&json!({ "value": json })));
        }
    }

    #[test]
    fn hex16_spells_like_format() {
        for n in [0, 1, 0xdead_beef, u64::MAX, 0x0123_4567_89ab_cdef] {
            assert_eq!(Hex16::new(n).as_str(), format!("{n:016x}"));
            assert_eq!(parse_hex16(&format!("{n:016x}")), Some(n));
        }
        assert_eq!(parse_hex16("00000000000000AB"), None);
    }
}
