//! Sequential specifications: what one object does when operations run one
//! at a time. The checker asks whether a concurrent history could be some
//! sequence of these.
//!
//! Models: a register (read/write, initially nil), a compare-and-set
//! register (read/write/cas, Jepsen's etcd semantics: `cas [a b]` sets `b`
//! iff the register holds `a`), and a key's string in a key-value store
//! (get/put/append/cas, initially `""`; `cas [a b]` on a key sets `b` iff the
//! key holds `a`; the checker splits a history by key, so a spec instance
//! sees one key).
//!
//! What it does not do: decide what `fail` or `info` mean (the caller drops
//! failed operations and passes unknown outputs as `None`). Invariants: a
//! state is a small `Copy` id (values and strings are interned per spec, so
//! equal values have equal ids); an operation with an unknown output applies
//! in every state (the search relies on this to stop early).

use super::intern::StringTable;
use super::memo::FxBuild;
use crate::history::Value;
use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::Hash;

/// One operation of a history, its invocation paired with its completion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation {
    /// The client process.
    pub process: u64,
    /// The function as the history spells it (`read`, `cas`, `append`, ...).
    pub f: String,
    /// The key, if any.
    pub key: Option<String>,
    /// The argument given at invocation.
    pub input: Value,
    /// The result (`ok`), or `None` when unknown (`info`, or no completion).
    pub output: Option<Value>,
    /// Invocation time.
    pub call: u64,
    /// Completion time; `None` means +infinity (outcome unknown).
    pub ret: Option<u64>,
    /// Index of the invoke event in the history.
    pub event: usize,
    /// The server that answered, if the history names it.
    pub server: Option<String>,
}

/// A sequential specification: an initial state and a step function.
pub trait SequentialSpec {
    /// A model state (interned: compare and hash it cheaply).
    type State: Copy + Eq + Hash + Debug;
    /// An operation in the model's own compact form.
    type Op: Debug;
    /// The initial state.
    fn init(&mut self) -> Self::State;
    /// Compiles an operation; `Ok(None)` drops one that constrains nothing
    /// (e.g. a read with an unknown result); `Err` says what was expected.
    fn compile(&mut self, op: &Operation) -> Result<Option<Self::Op>, String>;
    /// Applies `op` in `state`: the next state if the observed output is
    /// consistent, `None` if it is not.
    fn apply(&mut self, state: Self::State, op: &Self::Op) -> Option<Self::State>;
    /// What the operation did or saw, e.g. `returned 4`.
    fn describe_op(&self, op: &Self::Op) -> String;
    /// The state in words, e.g. `the register holds 7`.
    fn describe_state(&self, state: Self::State) -> String;
    /// Which operations of one part may be left out without changing the
    /// verdict (`true` = leave out). Only operations of unknown outcome
    /// qualify: they may never take effect. The default leaves out none.
    fn unobservable(&self, ops: &[Operation]) -> Vec<bool> {
        vec![false; ops.len()]
    }
    /// The state `op` requires to apply, if it observes one (a read's
    /// result, a compare-and-set's expected value); see [`Self::overwrites`].
    fn requires(&self, _op: &Self::Op) -> Option<Self::State> {
        None
    }
    /// The state `op` needs to be placed, for a report's words ("it needs
    /// the key to hold ..."): by default what it [`Self::requires`].
    fn must_hold(&self, op: &Self::Op) -> Option<Self::State> {
        self.requires(op)
    }
    /// The object a history without keys stands for, in a report: `the
    /// register`; by default `the history (no key)`.
    fn unkeyed_words(&self) -> &'static str {
        "the history (no key)"
    }
    /// If `op`'s only effect, when it takes effect, is to set the state to a
    /// value whatever the state was (a write; a compare-and-set, which
    /// otherwise does nothing), that value. The search leaves out such an
    /// operation of unknown outcome once no remaining operation
    /// [`Self::requires`] its value. An operation whose effect depends on the
    /// state (an append) must answer `None`, the default.
    fn overwrites(&self, _op: &Self::Op) -> Option<Self::State> {
        None
    }
    /// Whether `op` never changes the state (a read): when it applies, the
    /// search takes it at once and tries nothing else there (if the rest
    /// fails after it, it fails without it too). Default false.
    fn read_only(&self, _op: &Self::Op) -> bool {
        false
    }
    /// Bytes held by tables that grow while the search runs (counted in the
    /// checker's memory budget); the default is none.
    fn memory_bytes(&self) -> usize {
        0
    }
}

/// A register operation (values interned as ids; 0 is nil).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegisterOp {
    /// A read that returned this value.
    Read(u32),
    /// A write of this value.
    Write(u32),
    /// Compare-and-set; `known` is false when the outcome is unknown.
    Cas {
        /// The value it expects.
        expected: u32,
        /// The value it sets.
        new: u32,
        /// True if it succeeded (`ok`); false if unknown.
        known: bool,
    },
}

/// A register, with or without compare-and-set; initially nil.
#[derive(Debug)]
pub struct RegisterSpec {
    allow_cas: bool,
    values: Vec<Value>,
    ids: HashMap<Value, u32, FxBuild>,
}

impl RegisterSpec {
    /// A plain register (`allow_cas` false) or a compare-and-set register.
    pub fn new(allow_cas: bool) -> Self {
        let mut spec = RegisterSpec {
            allow_cas,
            values: Vec::new(),
            ids: HashMap::default(),
        };
        spec.intern(&Value::Nil);
        spec
    }

    fn intern(&mut self, value: &Value) -> u32 {
        if let Some(&id) = self.ids.get(value) {
            return id;
        }
        let id = self.values.len() as u32;
        self.values.push(value.clone());
        self.ids.insert(value.clone(), id);
        id
    }

    fn compile_cas(&mut self, op: &Operation) -> Result<Option<RegisterOp>, String> {
        let Value::List(pair) = &op.input else {
            return Err(format!("cas expects [expected new], found {}", op.input));
        };
        let [expected, new] = pair.as_slice() else {
            return Err(format!("cas expects [expected new], found {}", op.input));
        };
        Ok(Some(RegisterOp::Cas {
            expected: self.intern(expected),
            new: self.intern(new),
            known: op.output.is_some(),
        }))
    }
}

impl SequentialSpec for RegisterSpec {
    type State = u32;
    type Op = RegisterOp;

    fn init(&mut self) -> u32 {
        0
    }

    fn compile(&mut self, op: &Operation) -> Result<Option<RegisterOp>, String> {
        match op.f.as_str() {
            "read" | "get" => Ok(op.output.as_ref().map(|v| RegisterOp::Read(self.intern(v)))),
            "write" | "put" => Ok(Some(RegisterOp::Write(self.intern(&op.input)))),
            "cas" if self.allow_cas => self.compile_cas(op),
            other if self.allow_cas => Err(format!(
                "unknown operation `{other}` for the cas-register model; expected read, write or cas"
            )),
            other => Err(format!("unknown operation `{other}` for the register model; expected read or write")),
        }
    }

    #[inline]
    fn apply(&mut self, state: u32, op: &RegisterOp) -> Option<u32> {
        match *op {
            RegisterOp::Read(v) => (state == v).then_some(state),
            RegisterOp::Write(v) => Some(v),
            RegisterOp::Cas { expected, new, .. } if state == expected => Some(new),
            RegisterOp::Cas { known: true, .. } => None,
            RegisterOp::Cas { known: false, .. } => Some(state),
        }
    }

    /// An unknown-outcome write (or cas) whose new value no completed read
    /// returns and no cas expects can be left out. Proof sketch: take a
    /// linearization where it takes effect; until the next operation that
    /// sets the register, nothing can observe its value, and unknown cas
    /// operations in between did not apply (they expected another value), so
    /// leave them out too; the rest stays valid. This is what keeps runs with
    /// many timed-out writes (a crashed primary) from exploding the search.
    fn unobservable(&self, ops: &[Operation]) -> Vec<bool> {
        let mut observed: Vec<&Value> = Vec::new();
        for op in ops {
            match (op.f.as_str(), &op.output, &op.input) {
                ("read" | "get", Some(v), _) => observed.push(v),
                ("cas", _, Value::List(pair)) if !pair.is_empty() => observed.push(&pair[0]),
                _ => {}
            }
        }
        observed.sort();
        observed.dedup();
        let seen = |v: &Value| observed.binary_search(&v).is_ok();
        ops.iter()
            .map(|op| {
                op.output.is_none()
                    && match (op.f.as_str(), &op.input) {
                        ("write" | "put", v) => !seen(v),
                        ("cas", Value::List(pair)) if pair.len() == 2 => !seen(&pair[1]),
                        _ => false,
                    }
            })
            .collect()
    }

    fn requires(&self, op: &RegisterOp) -> Option<u32> {
        match *op {
            RegisterOp::Read(v) => Some(v),
            RegisterOp::Cas { expected, .. } => Some(expected),
            RegisterOp::Write(_) => None,
        }
    }

    fn read_only(&self, op: &RegisterOp) -> bool {
        matches!(op, RegisterOp::Read(_))
    }

    fn overwrites(&self, op: &RegisterOp) -> Option<u32> {
        match *op {
            RegisterOp::Write(v) => Some(v),
            RegisterOp::Cas { new, .. } => Some(new),
            RegisterOp::Read(_) => None,
        }
    }

    fn describe_op(&self, op: &RegisterOp) -> String {
        let v = |id: u32| self.values[id as usize].to_string();
        match *op {
            RegisterOp::Read(x) => format!("returned {}", v(x)),
            RegisterOp::Write(x) => format!("set {}", v(x)),
            RegisterOp::Cas {
                expected,
                new,
                known: true,
            } => {
                format!("compare-and-set {} -> {} succeeded", v(expected), v(new))
            }
            RegisterOp::Cas {
                expected,
                new,
                known: false,
            } => {
                format!(
                    "compare-and-set {} -> {} (outcome unknown)",
                    v(expected),
                    v(new)
                )
            }
        }
    }

    fn describe_state(&self, state: u32) -> String {
        format!("the register holds {}", self.values[state as usize])
    }

    fn unkeyed_words(&self) -> &'static str {
        "the register"
    }
}

/// A key-value operation on one key (strings interned as ids; 0 is `""`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KvOp {
    /// A get that returned this string.
    Get(u32),
    /// A put of this string.
    Put(u32),
    /// An append of this string.
    Append(u32),
    /// Compare-and-set; `known` is false when the outcome is unknown (a
    /// `fail`ed cas is dropped before it gets here).
    Cas {
        /// The string it expects.
        expected: u32,
        /// The string it sets.
        new: u32,
        /// True if it succeeded (`ok`); false if unknown.
        known: bool,
    },
}

/// One key of a key-value store: a string, initially `""`.
#[derive(Debug, Default)]
pub struct KvSpec {
    strings: StringTable,
}

impl KvSpec {
    fn intern_value(&mut self, value: &Value) -> Result<u32, String> {
        match value {
            Value::Nil => Ok(0),
            Value::Str(s) => Ok(self.strings.intern(s)),
            Value::Int(i) => Ok(self.strings.intern(&i.to_string())),
            Value::List(_) => Err(format!(
                "the kv model expects a string value, found {value}"
            )),
        }
    }

    fn show(&self, id: u32) -> String {
        short_string(self.strings.get(id))
    }

    fn compile_cas(&mut self, op: &Operation) -> Result<Option<KvOp>, String> {
        let pair = match &op.input {
            Value::List(pair) if pair.len() == 2 => pair,
            other => {
                return Err(format!(
                    "the kv model expected get, put or append of a string, or cas of [expected new]; found cas {other}"
                ))
            }
        };
        Ok(Some(KvOp::Cas {
            expected: self.intern_value(&pair[0])?,
            new: self.intern_value(&pair[1])?,
            known: op.output.is_some(),
        }))
    }
}

/// A string for people: quoted, and cut to its last 60 characters if longer.
fn short_string(text: &str) -> String {
    let count = text.chars().count();
    if count <= 72 {
        return format!("{text:?}");
    }
    let tail: String = text.chars().skip(count - 60).collect();
    format!("\"...{}\" ({count} chars)", tail.escape_debug())
}

impl SequentialSpec for KvSpec {
    type State = u32;
    type Op = KvOp;

    fn init(&mut self) -> u32 {
        0
    }

    fn compile(&mut self, op: &Operation) -> Result<Option<KvOp>, String> {
        match op.f.as_str() {
            "get" | "read" => match &op.output {
                Some(v) => Ok(Some(KvOp::Get(self.intern_value(v)?))),
                None => Ok(None),
            },
            "put" | "write" => Ok(Some(KvOp::Put(self.intern_value(&op.input)?))),
            "append" => Ok(Some(KvOp::Append(self.intern_value(&op.input)?))),
            "cas" => self.compile_cas(op),
            other => Err(format!(
                "unknown operation `{other}` for the kv model; expected get, put, append or cas"
            )),
        }
    }

    #[inline]
    fn apply(&mut self, state: u32, op: &KvOp) -> Option<u32> {
        match *op {
            KvOp::Get(v) => (state == v).then_some(state),
            KvOp::Put(v) => Some(v),
            KvOp::Append(suffix) => Some(self.strings.append(state, suffix)),
            KvOp::Cas { expected, new, .. } if state == expected => Some(new),
            KvOp::Cas { known: true, .. } => None,
            KvOp::Cas { known: false, .. } => Some(state),
        }
    }

    fn describe_op(&self, op: &KvOp) -> String {
        match *op {
            KvOp::Get(v) => format!("returned {}", self.show(v)),
            KvOp::Put(v) => format!("set {}", self.show(v)),
            KvOp::Append(v) => format!("appended {}", self.show(v)),
            KvOp::Cas {
                expected,
                new,
                known,
            } => format!(
                "compare-and-set {} -> {} {}",
                self.show(expected),
                self.show(new),
                if known {
                    "succeeded"
                } else {
                    "(outcome unknown)"
                }
            ),
        }
    }

    fn describe_state(&self, state: u32) -> String {
        format!("the key holds {}", self.show(state))
    }

    fn read_only(&self, op: &KvOp) -> bool {
        matches!(op, KvOp::Get(_))
    }

    fn must_hold(&self, op: &KvOp) -> Option<u32> {
        match *op {
            KvOp::Get(v) => Some(v),
            KvOp::Cas {
                expected,
                known: true,
                ..
            } => Some(expected),
            _ => None,
        }
    }

    fn memory_bytes(&self) -> usize {
        self.strings.memory_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(f: &str, input: Value, output: Option<Value>) -> Operation {
        Operation {
            process: 0,
            f: f.to_string(),
            key: None,
            input,
            output,
            call: 0,
            ret: Some(1),
            event: 0,
            server: None,
        }
    }

    #[test]
    fn cas_register_follows_etcd() {
        let mut spec = RegisterSpec::new(true);
        let pair = Value::List(vec![Value::Int(1), Value::Int(4)]);
        let cas = spec
            .compile(&op("cas", pair.clone(), Some(pair.clone())))
            .unwrap()
            .unwrap();
        let one = spec
            .compile(&op("write", Value::Int(1), None))
            .unwrap()
            .unwrap();
        let s1 = spec.apply(0, &one).unwrap();
        let s4 = spec.apply(s1, &cas).unwrap();
        assert_eq!(spec.describe_state(s4), "the register holds 4");
        assert_eq!(spec.apply(s4, &cas), None);
        let unknown = spec.compile(&op("cas", pair, None)).unwrap().unwrap();
        assert_eq!(spec.apply(s4, &unknown), Some(s4));
        assert_eq!(spec.compile(&op("read", Value::Nil, None)).unwrap(), None);
        assert!(spec.compile(&op("cas", Value::Int(3), None)).is_err());
        assert!(RegisterSpec::new(false)
            .compile(&op("cas", Value::Nil, None))
            .is_err());
    }

    #[test]
    fn kv_appends_and_gets() {
        let mut spec = KvSpec::default();
        let a = spec
            .compile(&op("append", Value::Str("x".into()), None))
            .unwrap()
            .unwrap();
        let g = spec
            .compile(&op("get", Value::Nil, Some(Value::Str("xx".into()))))
            .unwrap()
            .unwrap();
        let s = spec.apply(0, &a).unwrap();
        assert_eq!(spec.apply(s, &g), None);
        let s = spec.apply(s, &a).unwrap();
        assert_eq!(spec.apply(s, &g), Some(s));
        assert_eq!(
            short_string(&"ab".repeat(50)).len(),
            "\"...\" (100 chars)".len() + 60
        );
    }

    #[test]
    fn kv_cas_sets_only_when_the_key_holds_expected() {
        let mut spec = KvSpec::default();
        let pair = |a: &str, b: &str| Value::List(vec![Value::Str(a.into()), Value::Str(b.into())]);
        let put_a = spec
            .compile(&op("put", Value::Str("a".into()), None))
            .unwrap()
            .unwrap();
        let cas_ab = spec
            .compile(&op("cas", pair("a", "b"), Some(pair("a", "b"))))
            .unwrap()
            .unwrap();
        let get_b = spec
            .compile(&op("get", Value::Nil, Some(Value::Str("b".into()))))
            .unwrap()
            .unwrap();
        let sa = spec.apply(0, &put_a).unwrap();
        let sb = spec.apply(sa, &cas_ab).unwrap();
        assert_eq!(spec.apply(sb, &get_b), Some(sb));
        assert_eq!(spec.describe_state(sb), "the key holds \"b\"");
        // An ok cas in a state that does not hold `expected` is impossible.
        assert_eq!(spec.apply(0, &cas_ab), None);
        assert_eq!(spec.apply(sb, &cas_ab), None);
        // An unknown cas applies where it can and is a no-op elsewhere.
        let unknown = spec
            .compile(&op("cas", pair("a", "c"), None))
            .unwrap()
            .unwrap();
        assert_eq!(spec.apply(sb, &unknown), Some(sb));
        let sc = spec.apply(sa, &unknown).unwrap();
        assert_eq!(spec.describe_state(sc), "the key holds \"c\"");
        assert!(spec
            .compile(&op("cas", Value::Str("a".into()), None))
            .is_err());
        assert!(spec
            .compile(&op("cas", Value::List(vec![Value::Nil]), None))
            .is_err());
    }
}
