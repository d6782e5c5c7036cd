//! Typed indexes: which frontend, backend or server a value refers to.
//!
//! `validate` resolves names to positions in `Model::frontends`, `Model::backends` and
//! `Backend::servers`; these newtypes carry those positions so that a signature says which
//! list an index belongs to, and a server index cannot be passed where a backend is meant.
//! A server is identified by its backend and its `ServerId` together. Workers and the health
//! checker keep per-backend and per-server tables in the same order, indexed with `.index()`.

use std::fmt;

macro_rules! index_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(usize);

        impl $name {
            pub const fn new(index: usize) -> Self {
                $name(index)
            }

            /// The position in the list this id refers into.
            pub const fn index(self) -> usize {
                self.0
            }

            /// Every id of a list of `len` entries, in order.
            pub fn all(len: usize) -> impl Iterator<Item = Self> {
                (0..len).map($name)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }
    };
}

index_type!(
    /// A frontend (or the frontend half of a `listen`): its position in `Model::frontends`.
    FrontendId
);
index_type!(
    /// A backend (or the backend half of a `listen`): its position in `Model::backends`.
    BackendId
);
index_type!(
    /// A server within its backend: its position in `Backend::servers`.
    ServerId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_keep_their_index_and_print_it() {
        let id = BackendId::new(3);
        assert_eq!(id.index(), 3);
        assert_eq!(id.to_string(), "3");
        let all: Vec<ServerId> = ServerId::all(2).collect();
        assert_eq!(all, vec![ServerId::new(0), ServerId::new(1)]);
    }
}
