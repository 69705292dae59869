//! Every list's answer: a page of items and, when more follow, the token of the next.

use serde::{Deserialize, Serialize};

/// One page of a list, newest or first items first as the route says. A list is never
/// cut silently: `next_page_token` is present exactly when more items follow; pass it
/// back as `?page_token=` (with the same filters) for the next page.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    #[serde(default)]
    pub next_page_token: Option<String>,
}

impl<T> Page<T> {
    /// The largest `page_size` a list accepts; above it the request is refused (422).
    pub const MAX_SIZE: u32 = 500;
    /// `page_size` when none is given.
    pub const DEFAULT_SIZE: u32 = 50;

    /// The same page with each item turned into another.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_page_token: self.next_page_token,
        }
    }

    /// A page with nothing after it.
    pub fn last(items: Vec<T>) -> Page<T> {
        Page {
            items,
            next_page_token: None,
        }
    }
}
