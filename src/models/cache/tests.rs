//! Unit tests of the cache model's nodes.
