//! Unit tests: the ballot scheme, the stored form of accepted values, and
//! small clusters run by the engine through their scenarios.

use super::server::{ballot_above, decode, encode};
use crate::models::raft::msg::{ClientCommand, Command, Op};
use crate::node::NodeId;

#[test]
fn ballots_are_disjoint_per_server_and_grow() {
    for above in 0..40 {
        let mine: Vec<u64> = (0..5).map(|me| ballot_above(5, me, above)).collect();
        for (me, b) in mine.iter().enumerate() {
            assert!(*b > above && *b % 5 == me as u64 && *b <= above + 5);
        }
    }
    assert_eq!(ballot_above(5, 0, 0), 5, "ballot 0 means none");
    assert_eq!(ballot_above(3, 2, 2), 5);
}

#[test]
fn accepted_values_survive_their_stored_form() {
    let ops = [
        Op::Get { key: 2 },
        Op::Put {
            key: 0,
            value: "a\"b".into(),
        },
        Op::Append {
            key: 1,
            value: "x".into(),
        },
        Op::Cas {
            key: 3,
            expected: "".into(),
            new: "z".into(),
        },
    ];
    for op in ops {
        let command = Command::Client(ClientCommand {
            client: NodeId(7),
            seq: (3 << 32) | 9,
            op,
        });
        assert_eq!(decode(&encode(42, &command)), Some((42, command)));
    }
    assert_eq!(decode(&encode(8, &Command::Noop)), Some((8, Command::Noop)));
    assert_eq!(decode(&serde_json::json!({ "x": 1 })), None);
}

/// A run of a shipped scenario: one leader, every slot executed in order.
#[test]
fn quiet_cluster_elects_one_leader_and_agrees() {
    let scenario = crate::scenario::Scenario::load(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/multipaxos-quiet.toml"
    ))
    .expect("scenario");
    let report = crate::scenario::run(&scenario, 3, crate::scenario::RunOptions::default());
    assert!(report.violations.is_empty(), "{:?}", report.violations);
}

#[test]
fn validity_describes_invokes_as_the_log_does() {
    use super::check::describe_invoke;
    use serde_json::json;
    let cases = [
        (
            json!({"f": "get", "key": "k1", "value": null}),
            Op::Get { key: 0 },
        ),
        (
            json!({"f": "put", "key": "k2", "value": "1.1 "}),
            Op::Put {
                key: 1,
                value: "1.1 ".into(),
            },
        ),
        (
            json!({"f": "append", "key": "k3", "value": "x\"y"}),
            Op::Append {
                key: 2,
                value: "x\"y".into(),
            },
        ),
        (
            json!({"f": "cas", "key": "k1", "value": ["", "2.1 "]}),
            Op::Cas {
                key: 0,
                expected: "".into(),
                new: "2.1 ".into(),
            },
        ),
    ];
    for (detail, op) in cases {
        assert_eq!(describe_invoke(&detail.clone().into()), Some(op.describe()));
        // The same detail as typed fields (as clients record it).
        let fields: Vec<(&'static str, crate::node::Field)> = ["f", "key", "value"]
            .into_iter()
            .map(|k| (k, crate::node::Field::from(detail[k].clone())))
            .collect();
        let typed = crate::node::Detail::fields(fields);
        assert_eq!(describe_invoke(&typed), Some(op.describe()));
    }
}
