//! Who can send to whom: the base graph, partitions cut from it, and a dense
//! lookup table the engine reads on every send and arrival.
//!
//! The base graph (petgraph `DiGraphMap`, insertion-ordered, so
//! deterministic) says which links exist and with which spec; it is laid out
//! once as `base_table`, an `n * n` table of the link spec index of each
//! edge. The current network is `open`, the same table with the cut edges
//! set to `None`: the hot path (every send and arrival) is one array read,
//! a cut costs one write per edge it removes, and a heal one copy of the
//! table, so a partition of a 1,000-node network is a few milliseconds.
//! Self-edges exist and are never cut. Questions about the current graph as
//! a whole ([`Topology::reachability_groups`]) build it from the table.
//!
//! Link settings change mid-run ([`Topology::set_links`]) by pointing the
//! touched edges at another spec (added to `specs` once, shared by equal
//! settings): one write per edge, in `base_table` and, unless the edge is
//! cut, in `open`, so a heal keeps the new settings.
//! [`Topology::restore_links`] undoes one change, edge by edge;
//! [`Topology::reset_links`] returns every edge to the settings it started with.

use super::{LinkChange, LinkSpec};
use crate::node::NodeId;
use petgraph::graphmap::DiGraphMap;

/// A set of edges to remove.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cut {
    /// Cut both directions between every pair of nodes in different groups.
    /// Nodes in no group keep all their edges (that is a bridge).
    Groups(Vec<Vec<NodeId>>),
    /// Cut `from -> to` for every pair; the reverse direction stays open.
    OneWay { from: Vec<NodeId>, to: Vec<NodeId> },
    /// Cut every edge to and from one node.
    Isolate(NodeId),
}

/// The network's graph and link specs.
#[derive(Clone, Debug)]
pub struct Topology {
    n: usize,
    specs: Vec<LinkSpec>,
    /// The spec index of every edge of the base graph, row `from`, column `to`.
    base_table: Vec<Option<u16>>,
    /// `base_table` less the cut edges.
    open: Vec<Option<u16>>,
    /// Directed edges between distinct nodes cut since the last heal.
    cut_edges: usize,
    /// Every edge a [`Topology::set_links`] changed since the last
    /// [`Topology::reset_links`], with its spec before, in order.
    changed: Vec<(u32, u16)>,
}

/// One edge whose spec a [`Topology::set_links`] changed: the edge (`from *
/// n + to`) and its spec index before and after.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EdgeChange {
    edge: u32,
    before: u16,
    after: u16,
}

/// The most distinct link specs a topology holds (indices are `u16`).
pub const MAX_LINK_SPECS: usize = u16::MAX as usize + 1;

impl Topology {
    /// Every node linked to every other with one spec.
    pub fn full_mesh(n: usize, spec: LinkSpec) -> Topology {
        Topology::zoned(&vec![0; n], spec.clone(), spec)
    }

    /// Nodes in zones (`zone_of[i]` is node i's zone): links inside a zone
    /// use `intra`, links between zones use `inter`.
    pub fn zoned(zone_of: &[usize], intra: LinkSpec, inter: LinkSpec) -> Topology {
        let n = zone_of.len();
        let mut base = DiGraphMap::<u32, u16>::new();
        for i in 0..n as u32 {
            base.add_node(i);
        }
        for a in 0..n {
            for b in 0..n {
                let spec = if zone_of[a] == zone_of[b] { 0 } else { 1 };
                base.add_edge(a as u32, b as u32, spec);
            }
        }
        let mut base_table = vec![None; n * n];
        for (a, b, &spec) in base.all_edges() {
            base_table[a as usize * n + b as usize] = Some(spec);
        }
        debug_assert!(
            (0..n).all(|i| base_table[i * n + i].is_some()),
            "every node has a self-edge"
        );
        Topology {
            n,
            specs: vec![intra, inter],
            open: base_table.clone(),
            base_table,
            cut_edges: 0,
            changed: Vec::new(),
        }
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.n
    }

    /// True if there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The spec of the open edge `from -> to`, or `None` if it is cut.
    #[inline]
    pub fn link(&self, from: NodeId, to: NodeId) -> Option<&LinkSpec> {
        self.open[from.index() * self.n + to.index()].map(|i| &self.specs[usize::from(i)])
    }

    /// True if `from` can send to `to` now.
    #[inline]
    pub fn is_open(&self, from: NodeId, to: NodeId) -> bool {
        self.open[from.index() * self.n + to.index()].is_some()
    }

    /// Removes the edges of `cut` (cuts accumulate until [`Topology::heal`]).
    pub fn cut(&mut self, cut: &Cut) {
        match cut {
            Cut::Groups(groups) => {
                for (i, left) in groups.iter().enumerate() {
                    for right in groups.iter().skip(i + 1) {
                        self.cut_pairs(left, right);
                        self.cut_pairs(right, left);
                    }
                }
            }
            Cut::OneWay { from, to } => self.cut_pairs(from, to),
            Cut::Isolate(node) => {
                let others: Vec<NodeId> = (0..self.n as u32)
                    .map(NodeId)
                    .filter(|o| o != node)
                    .collect();
                self.cut_pairs(&[*node], &others);
                self.cut_pairs(&others, &[*node]);
            }
        }
    }

    fn cut_pairs(&mut self, from: &[NodeId], to: &[NodeId]) {
        for a in from {
            let row = &mut self.open[a.index() * self.n..(a.index() + 1) * self.n];
            for b in to {
                if a != b && row[b.index()].take().is_some() {
                    self.cut_edges += 1;
                }
            }
        }
    }

    /// True if every edge to and from `node` (but its self-edge) is cut.
    pub fn is_isolated(&self, node: NodeId) -> bool {
        let (n, x) = (self.n, node.index());
        (0..n)
            .filter(|&y| y != x)
            .all(|y| self.open[x * n + y].is_none() && self.open[y * n + x].is_none())
    }

    /// Restores every cut edge between `node` and each other node that is
    /// not isolated (has an open edge, either way, to some third node):
    /// undoes `Isolate(node)` without reconnecting other isolated nodes.
    pub fn reconnect(&mut self, node: NodeId) {
        let (n, x) = (self.n, node.index());
        let isolated = |open: &[Option<u16>], y: usize| {
            (0..n)
                .filter(|&z| z != y && z != x)
                .all(|z| open[y * n + z].is_none() && open[z * n + y].is_none())
        };
        for y in 0..n {
            if y == x || isolated(&self.open, y) {
                continue;
            }
            for (a, b) in [(x, y), (y, x)] {
                let i = a * n + b;
                if self.open[i].is_none() && self.base_table[i].is_some() {
                    self.open[i] = self.base_table[i];
                    self.cut_edges -= 1;
                }
            }
        }
    }

    /// Restores every edge of the base topology.
    pub fn heal(&mut self) {
        self.open.copy_from_slice(&self.base_table);
        self.cut_edges = 0;
    }

    /// Applies `change` to every edge `a -> b` with `a` in `from`, `b` in
    /// `to` and `a != b` (directed; self-edges keep their spec), cut or not;
    /// keys `change` leaves out keep each edge's current value. Returns what
    /// changed, for [`Topology::restore_links`]; `None` (and nothing changed)
    /// if the new settings would make more than [`MAX_LINK_SPECS`] specs.
    pub fn set_links(
        &mut self,
        from: &[NodeId],
        to: &[NodeId],
        change: &LinkChange,
    ) -> Option<Vec<EdgeChange>> {
        // Old spec index -> new one; one lookup per distinct old spec.
        let mut mapped: Vec<(u16, u16)> = Vec::new();
        let mut changes = Vec::with_capacity(from.len() * to.len());
        for a in from {
            for b in to {
                let edge = a.index() * self.n + b.index();
                let Some(before) = self.base_table[edge] else {
                    continue;
                };
                if a == b {
                    continue;
                }
                let after = match mapped.iter().find(|(old, _)| *old == before) {
                    Some(&(_, new)) => new,
                    None => {
                        let spec = change.applied_to(&self.specs[usize::from(before)]);
                        let new = self.spec_index(spec)?;
                        mapped.push((before, new));
                        new
                    }
                };
                changes.push(EdgeChange {
                    edge: edge as u32,
                    before,
                    after,
                });
            }
        }
        for c in &changes {
            self.changed.push((c.edge, c.before));
            self.point(c.edge as usize, c.after);
        }
        Some(changes)
    }

    /// Undoes a [`Topology::set_links`]: each edge it changed that still has
    /// the spec it set goes back to the spec it had (an edge changed again
    /// since keeps its newer settings).
    pub fn restore_links(&mut self, changes: &[EdgeChange]) {
        for c in changes {
            if self.base_table[c.edge as usize] == Some(c.after) {
                self.point(c.edge as usize, c.before);
            }
        }
    }

    /// Returns every edge to the spec it was built with (cut edges stay
    /// cut): undoes the recorded changes, latest first, so each edge ends
    /// with the spec from before its first change. O(changes recorded).
    pub fn reset_links(&mut self) {
        let changed = std::mem::take(&mut self.changed);
        for &(edge, before) in changed.iter().rev() {
            self.point(edge as usize, before);
        }
    }

    /// The index of `spec` in `specs`, added if new; `None` if full.
    fn spec_index(&mut self, spec: LinkSpec) -> Option<u16> {
        if let Some(i) = self.specs.iter().position(|s| *s == spec) {
            return Some(i as u16);
        }
        if self.specs.len() >= MAX_LINK_SPECS {
            return None;
        }
        self.specs.push(spec);
        Some((self.specs.len() - 1) as u16)
    }

    /// Points one edge at spec `index`, in the base and (unless cut) now.
    fn point(&mut self, edge: usize, index: u16) {
        debug_assert!(self.base_table[edge].is_some(), "edge {edge} is not a link");
        self.base_table[edge] = Some(index);
        if self.open[edge].is_some() {
            self.open[edge] = Some(index);
        }
    }

    /// True if no edge is cut.
    pub fn is_whole(&self) -> bool {
        self.cut_edges == 0
    }

    /// The number of directed edges between distinct nodes that are cut.
    pub fn cut_edge_count(&self) -> usize {
        self.cut_edges
    }

    /// Groups of nodes that can all reach each other (strongly connected
    /// components of the current graph), each sorted, in order of first node.
    pub fn reachability_groups(&self) -> Vec<Vec<NodeId>> {
        let mut current = DiGraphMap::<u32, ()>::new();
        for a in 0..self.n {
            current.add_node(a as u32);
            for b in 0..self.n {
                if self.open[a * self.n + b].is_some() {
                    current.add_edge(a as u32, b as u32, ());
                }
            }
        }
        let mut groups: Vec<Vec<NodeId>> = petgraph::algo::tarjan_scc(&current)
            .into_iter()
            .map(|c| {
                let mut g: Vec<NodeId> = c.into_iter().map(NodeId).collect();
                g.sort();
                g
            })
            .collect();
        groups.sort();
        groups
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(xs: &[u32]) -> Vec<NodeId> {
        xs.iter().map(|&x| NodeId(x)).collect()
    }

    #[test]
    fn groups_cut_exactly_the_cross_edges() {
        let mut t = Topology::full_mesh(5, LinkSpec::default());
        t.cut(&Cut::Groups(vec![ids(&[0, 1]), ids(&[2, 3, 4])]));
        for a in 0..5u32 {
            for b in 0..5u32 {
                let same = (a < 2) == (b < 2);
                assert_eq!(t.is_open(NodeId(a), NodeId(b)), same, "{a}->{b}");
            }
        }
        assert_eq!(t.cut_edge_count(), 12);
        assert_eq!(t.reachability_groups(), vec![ids(&[0, 1]), ids(&[2, 3, 4])]);
        t.heal();
        assert!(t.is_whole());
    }

    #[test]
    fn reconnect_undoes_one_isolation_and_leaves_the_others() {
        let mut t = Topology::full_mesh(4, LinkSpec::default());
        t.cut(&Cut::Isolate(NodeId(0)));
        t.cut(&Cut::Isolate(NodeId(1)));
        assert!(t.is_isolated(NodeId(0)) && t.is_isolated(NodeId(1)));
        assert!(!t.is_isolated(NodeId(2)));
        t.reconnect(NodeId(1));
        assert!(t.is_isolated(NodeId(0)), "n1 stays cut off");
        assert!(!t.is_isolated(NodeId(1)));
        assert!(t.is_open(NodeId(1), NodeId(2)) && t.is_open(NodeId(3), NodeId(1)));
        assert!(!t.is_open(NodeId(0), NodeId(1)) && !t.is_open(NodeId(1), NodeId(0)));
        assert_eq!(t.cut_edge_count(), 6, "only node 0's six edges stay cut");
        t.reconnect(NodeId(0));
        assert!(t.is_whole());
    }

    #[test]
    fn one_way_and_bridge() {
        let mut t = Topology::full_mesh(3, LinkSpec::default());
        t.cut(&Cut::OneWay {
            from: ids(&[0]),
            to: ids(&[1]),
        });
        assert!(!t.is_open(NodeId(0), NodeId(1)));
        assert!(t.is_open(NodeId(1), NodeId(0)));
        t.heal();
        t.cut(&Cut::Groups(vec![ids(&[0]), ids(&[2])])); // node 1 bridges
        assert!(!t.is_open(NodeId(0), NodeId(2)) && !t.is_open(NodeId(2), NodeId(0)));
        assert!(t.is_open(NodeId(0), NodeId(1)) && t.is_open(NodeId(1), NodeId(2)));
    }

    #[test]
    fn cuts_accumulate_count_each_edge_once_and_heal_restores_the_specs() {
        let zones = [0, 0, 1, 1];
        let mut t = Topology::zoned(&zones, LinkSpec::default(), LinkSpec::default());
        let before: Vec<Option<u16>> = t.open.clone();
        t.cut(&Cut::Isolate(NodeId(0)));
        assert_eq!(t.cut_edge_count(), 6);
        t.cut(&Cut::OneWay {
            from: ids(&[0, 1]),
            to: ids(&[0, 2]),
        });
        assert_eq!(t.cut_edge_count(), 7, "only 1->2 is new; 0->0 is never cut");
        assert!(t.is_open(NodeId(0), NodeId(0)));
        t.heal();
        assert!(t.is_whole());
        assert_eq!(t.open, before, "the same specs as before the cuts");
        assert_eq!(t.open[2], Some(1), "0 -> 2 crosses zones");
    }

    fn lossy(p: u64) -> LinkChange {
        LinkChange {
            loss: Some(crate::rng::Probability::ratio(p, 100)),
            ..LinkChange::default()
        }
    }

    #[test]
    fn set_links_changes_only_the_named_directed_edges_and_survives_a_heal() {
        let mut t = Topology::full_mesh(3, LinkSpec::default());
        t.cut(&Cut::Isolate(NodeId(1)));
        let changes = t
            .set_links(&ids(&[0, 1]), &ids(&[1, 2]), &lossy(50))
            .unwrap();
        assert_eq!(changes.len(), 3, "0->1, 0->2, 1->2; 1->1 is a self-edge");
        let loss = |t: &Topology, a: u32, b: u32| t.link(NodeId(a), NodeId(b)).map(|l| l.loss);
        assert_eq!(loss(&t, 0, 2), Some(crate::rng::Probability::ratio(1, 2)));
        assert_eq!(loss(&t, 2, 0), Some(crate::rng::Probability::ZERO));
        assert_eq!(loss(&t, 0, 1), None, "still cut");
        t.heal();
        assert_eq!(loss(&t, 0, 1), Some(crate::rng::Probability::ratio(1, 2)));
        assert_eq!(t.specs.len(), 3, "intra, inter and one new spec, shared");
        // A later change on one edge survives the restore of the first.
        let later = t.set_links(&ids(&[0]), &ids(&[2]), &lossy(10)).unwrap();
        t.restore_links(&changes);
        assert_eq!(loss(&t, 0, 1), Some(crate::rng::Probability::ZERO));
        assert_eq!(loss(&t, 0, 2), Some(crate::rng::Probability::ratio(1, 10)));
        t.restore_links(&later);
        assert_eq!(loss(&t, 0, 2), Some(crate::rng::Probability::ratio(1, 2)));
        t.reset_links();
        assert!(
            (0..3).all(|a| (0..3).all(|b| loss(&t, a, b) == Some(crate::rng::Probability::ZERO)))
        );
    }

    #[test]
    fn set_links_refuses_past_the_spec_limit() {
        let mut t = Topology::full_mesh(2, LinkSpec::default());
        t.specs.resize(MAX_LINK_SPECS, LinkSpec::default());
        assert!(
            t.set_links(&ids(&[0]), &ids(&[1]), &lossy(0)).is_some(),
            "an existing spec"
        );
        assert!(t.set_links(&ids(&[0]), &ids(&[1]), &lossy(5)).is_none());
        assert_eq!(t.specs.len(), MAX_LINK_SPECS);
        assert_eq!(t.link(NodeId(0), NodeId(1)), Some(&LinkSpec::default()));
    }
}
