//! Unit tests of the Paxos model: parameters, and runs of small scenarios.

use super::*;
use crate::model::{Layout, Model};

fn layout(servers: usize) -> Layout {
    Layout {
        servers,
        workload: None,
    }
}

#[test]
fn params_reject_bad_values_with_their_key() {
    let m = PaxosModel;
    let err = m.params(PaxosTable::default(), &layout(2)).unwrap_err();
    assert!(err.key.is_none() && err.message.contains("three servers"));
    let t = PaxosTable {
        proposers: Some(4),
        ..PaxosTable::default()
    };
    assert_eq!(
        m.params(t, &layout(3)).unwrap_err().key.as_deref(),
        Some("proposers")
    );
    let t = PaxosTable {
        backoff: Some("exponential".into()),
        ..PaxosTable::default()
    };
    let err = m.params(t, &layout(3)).unwrap_err();
    assert_eq!(err.key.as_deref(), Some("backoff"));
    assert!(err.message.contains("\"none\" or \"randomized\""));
    let t = PaxosTable {
        bugs: vec!["nope".into()],
        ..PaxosTable::default()
    };
    assert_eq!(
        m.params(t, &layout(3)).unwrap_err().key.as_deref(),
        Some("bugs")
    );
    let p = m.params(PaxosTable::default(), &layout(5)).unwrap();
    assert_eq!(
        (p.proposers, p.majority(), p.backoff),
        (1, 3, Backoff::Randomized)
    );
}

#[test]
fn ballots_order_by_round_then_proposer() {
    let a = Ballot { round: 1, by: 2 };
    let b = Ballot { round: 2, by: 0 };
    let c = Ballot { round: 2, by: 1 };
    assert!(a < b && b < c);
    assert!(Ballot::default() < a);
}
