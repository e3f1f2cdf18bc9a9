//! Who can send to whom: the base graph, partitions cut from it, and a dense
//! lookup table the engine reads on every send and arrival.
//!
//! The graph (petgraph `DiGraphMap`, insertion-ordered, so deterministic) is
//! the source of truth; after every change [`Topology`] rebuilds `open`, an
//! `n * n` table of the link spec index of each open edge, so the hot path is
//! one array read. Self-edges exist and are never cut.

use super::LinkSpec;
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
    base: DiGraphMap<u32, u16>,
    current: DiGraphMap<u32, u16>,
    open: Vec<Option<u16>>,
}

impl Topology {
    /// Every node linked to every other with one spec.
    pub fn full_mesh(n: usize, spec: LinkSpec) -> Topology {
        Topology::zoned(&vec![0; n], spec.clone(), spec)
    }

    /// Nodes in zones (`zone_of[i]` is node i's zone): links inside a zone
    /// use `intra`, links between zones use `inter`.
    pub fn zoned(zone_of: &[usize], intra: LinkSpec, inter: LinkSpec) -> Topology {
        let n = zone_of.len();
        let mut base = DiGraphMap::new();
        for i in 0..n as u32 {
            base.add_node(i);
        }
        for a in 0..n {
            for b in 0..n {
                let spec = if zone_of[a] == zone_of[b] { 0 } else { 1 };
                base.add_edge(a as u32, b as u32, spec);
            }
        }
        let mut topology = Topology {
            n,
            specs: vec![intra, inter],
            current: base.clone(),
            base,
            open: vec![None; n * n],
        };
        topology.rebuild_table();
        topology
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
        self.rebuild_table();
    }

    fn cut_pairs(&mut self, from: &[NodeId], to: &[NodeId]) {
        for a in from {
            for b in to {
                if a != b {
                    self.current.remove_edge(a.0, b.0);
                }
            }
        }
    }

    /// Restores every edge of the base topology.
    pub fn heal(&mut self) {
        self.current = self.base.clone();
        self.rebuild_table();
    }

    /// True if no edge is cut.
    pub fn is_whole(&self) -> bool {
        self.current.edge_count() == self.base.edge_count()
    }

    /// The number of directed edges between distinct nodes that are cut.
    pub fn cut_edge_count(&self) -> usize {
        self.base.edge_count() - self.current.edge_count()
    }

    /// Groups of nodes that can all reach each other (strongly connected
    /// components of the current graph), each sorted, in order of first node.
    pub fn reachability_groups(&self) -> Vec<Vec<NodeId>> {
        let mut groups: Vec<Vec<NodeId>> = petgraph::algo::tarjan_scc(&self.current)
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

    fn rebuild_table(&mut self) {
        self.open.iter_mut().for_each(|slot| *slot = None);
        for (a, b, &spec) in self.current.all_edges() {
            self.open[a as usize * self.n + b as usize] = Some(spec);
        }
        debug_assert!(
            (0..self.n).all(|i| self.open[i * self.n + i].is_some()),
            "a self-edge was cut"
        );
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
}
