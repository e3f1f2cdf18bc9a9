//! Fault targets that resolve when the fault fires: `@leader`, `@random`,
//! `@random:follower`, `@leader+1`.
//!
//! A scenario names a fault's node either by name (resolved once, when the
//! file is read) or by a [`Target`] (resolved by the engine at the fault's
//! time, from the roles the nodes report with [`crate::Node::role`]).
//!
//! Resolution, over the scenario's servers (clients are never picked):
//! - `@ROLE`: the server whose role is ROLE; when several are (e.g. two
//!   Raft leaders of different terms), the one with the highest
//!   [`crate::Node::role_rank`] (Raft: the term), then the lowest node id.
//! - `@random`: any server, running or not, drawn from the run's `targets`
//!   stream (its own stream, so other draws do not shift).
//! - `@random:ROLE`: any server whose role is ROLE, drawn the same way.
//! - `+K` after any of these: the K-th server after the pick, in name
//!   order, wrapping.
//!
//! Every model has one more role, [`CRASHED`]: a crashed server (so
//! `restart` can take `"@crashed"`); a crashed node reports no other role.
//! A target that matches nobody skips the fault, and the trace says so.
//! Lists of nodes (`groups`, `from`, `to`) may also hold `@others`, which
//! is not a target but a [`crate::fault::Pick::Others`]: the servers no
//! other pick of the fault names.

use crate::node::NodeId;
use crate::rng::SimRng;
use std::sync::Arc;

/// Who a fault is aimed at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The role to match; `None` for any server (only with `random`).
    pub role: Option<String>,
    /// Draw among the matches instead of taking the best-ranked one.
    pub random: bool,
    /// How many servers after the pick, in name order, wrapping.
    pub offset: u32,
    /// The servers, in name order (the candidates, and the ring `offset`
    /// walks); shared by every target of a scenario.
    pub servers: Arc<[NodeId]>,
}

/// The role of a crashed server, in every model.
pub const CRASHED: &str = "crashed";

/// The state of a running server cut off from every other node (by
/// `isolate`, or partitions that add up to it), in every model: a target
/// `@isolated` picks among them (so `reconnect` can take `"@isolated"`)
/// without hiding the role they report to other targets.
pub const ISOLATED: &str = "isolated";

/// What a node reports at the time a target resolves: its role and rank
/// (`(CRASHED, 0)` when crashed; none when it reports no role).
pub type Reported = Option<(&'static str, u64)>;

impl Target {
    /// Reads the text after a node key: `None` if it is not a target (it
    /// does not start with `@`), else the target or what is wrong with it.
    /// `roles` are the model's roles.
    pub fn parse(
        text: &str,
        roles: &[&'static str],
        servers: impl Into<Arc<[NodeId]>>,
    ) -> Option<Result<Target, String>> {
        let rest = text.strip_prefix('@')?;
        Some(Target::parse_rest(rest, roles, servers.into()))
    }

    fn parse_rest(
        rest: &str,
        roles: &[&'static str],
        servers: Arc<[NodeId]>,
    ) -> Result<Target, String> {
        let (pick, offset) = match rest.split_once('+') {
            None => (rest, 0),
            Some((pick, k)) => match k.parse::<u32>() {
                Ok(n) if k.bytes().all(|b| b.is_ascii_digit()) => (pick, n),
                _ => {
                    return Err(format!(
                        "'+{k}' is not a count; expected e.g. \"@leader+1\""
                    ))
                }
            },
        };
        let (random, role) = match pick {
            "random" => (true, None),
            _ => match pick.strip_prefix("random:") {
                Some(role) => (true, Some(role)),
                None => (false, Some(pick)),
            },
        };
        if let Some(role) = role {
            if roles.is_empty() && role != CRASHED && role != ISOLATED {
                return Err(format!(
                    "'@{role}' names a role, but this model reports none; use a node name, \"@random\", \"@{CRASHED}\" or \"@{ISOLATED}\""
                ));
            }
            if !roles.contains(&role) && role != CRASHED && role != ISOLATED {
                return Err(format!(
                    "unknown role '{role}'; this model's roles are {}, {CRASHED}, {ISOLATED}; or \"@random\"",
                    roles.join(", ")
                ));
            }
        }
        Ok(Target {
            role: role.map(str::to_string),
            random,
            offset,
            servers,
        })
    }

    /// The node this target names now, given what each node reports
    /// (indexed by node id); `None` if nobody matches. Draws from `rng`
    /// only for a random pick with at least one match.
    pub fn resolve(&self, reported: &[Reported], rng: &mut SimRng) -> Option<NodeId> {
        let matches: Vec<(usize, NodeId, u64)> = self
            .servers
            .iter()
            .enumerate()
            .filter_map(|(pos, &id)| match (&self.role, reported[id.index()]) {
                (None, r) => Some((pos, id, r.map_or(0, |(_, rank)| rank))),
                (Some(want), Some((role, rank))) if role == want => Some((pos, id, rank)),
                _ => None,
            })
            .collect();
        let &(pos, _, _) = if self.random {
            if matches.is_empty() {
                return None;
            }
            rng.pick(&matches)
        } else {
            // Highest rank, then lowest id (servers are in id order).
            matches.iter().rev().max_by_key(|(_, _, rank)| *rank)?
        };
        let at = (pos + self.offset as usize) % self.servers.len();
        Some(self.servers[at])
    }

    /// The target as written, e.g. `@random:follower+1`.
    pub fn text(&self) -> String {
        let mut out = String::from("@");
        match (&self.role, self.random) {
            (None, _) => out.push_str("random"),
            (Some(role), true) => out.push_str(&format!("random:{role}")),
            (Some(role), false) => out.push_str(role),
        }
        if self.offset > 0 {
            out.push_str(&format!("+{}", self.offset));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLES: &[&str] = &["leader", "follower", "candidate"];

    fn servers(n: u32) -> Vec<NodeId> {
        (0..n).map(NodeId).collect()
    }

    fn target(text: &str) -> Target {
        Target::parse(text, ROLES, servers(3)).unwrap().unwrap()
    }

    #[test]
    fn parses_and_rejects() {
        assert!(Target::parse("n1", ROLES, servers(3)).is_none());
        assert_eq!(target("@leader+1").text(), "@leader+1");
        assert_eq!(target("@random").text(), "@random");
        assert_eq!(target("@random:follower").text(), "@random:follower");
        let err = |t: &str, roles: &[&'static str]| {
            Target::parse(t, roles, servers(3)).unwrap().unwrap_err()
        };
        assert!(err("@boss", ROLES).contains("leader, follower, candidate"));
        assert!(err("@leader+x", ROLES).contains("not a count"));
        assert!(err("@leader+", ROLES).contains("not a count"));
        assert!(err("@leader+-1", ROLES).contains("not a count"));
        assert!(err("@leader", &[]).contains("reports none"));
        assert!(Target::parse("@random", &[], servers(3)).unwrap().is_ok());
        assert!(Target::parse("@crashed", &[], servers(3)).unwrap().is_ok());
    }

    #[test]
    fn resolves_roles_ties_offsets_and_nobody() {
        let mut rng = SimRng::stream(1, "targets");
        // Two leaders (terms 2 and 3), one follower, a client with no role.
        let reported: Vec<Reported> = vec![
            Some(("leader", 2)),
            Some(("follower", 3)),
            Some(("leader", 3)),
            None,
        ];
        assert_eq!(
            target("@leader").resolve(&reported, &mut rng),
            Some(NodeId(2))
        );
        assert_eq!(
            target("@leader+1").resolve(&reported, &mut rng),
            Some(NodeId(0))
        );
        assert_eq!(
            target("@follower+2").resolve(&reported, &mut rng),
            Some(NodeId(0))
        );
        assert_eq!(target("@candidate").resolve(&reported, &mut rng), None);
        assert_eq!(target("@crashed").resolve(&reported, &mut rng), None);
        let down: Vec<Reported> = vec![Some(("leader", 1)), Some((CRASHED, 0)), Some((CRASHED, 0))];
        assert_eq!(target("@crashed").resolve(&down, &mut rng), Some(NodeId(1)));
        assert_eq!(
            target("@random:candidate").resolve(&reported, &mut rng),
            None
        );
        // Equal ranks: the lowest id.
        let tied: Vec<Reported> = vec![None, Some(("leader", 5)), Some(("leader", 5))];
        assert_eq!(target("@leader").resolve(&tied, &mut rng), Some(NodeId(1)));
        // Random picks stay among the matches (servers only) and cover them.
        let mut seen = [0; 4];
        for _ in 0..200 {
            let n = target("@random:leader")
                .resolve(&reported, &mut rng)
                .unwrap();
            seen[n.index()] += 1;
            let any = target("@random").resolve(&reported, &mut rng).unwrap();
            assert!(any.index() < 3, "a client was picked");
        }
        assert!(seen[0] > 0 && seen[2] > 0 && seen[1] == 0 && seen[3] == 0);
    }
}
