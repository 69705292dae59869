//! Keyset paging for every list (SPEC, "API conventions"): `?page_size=` (default 50,
//! 1 to 500, 422 otherwise) and `?page_token=`, answered as
//! [`Page`](cartflow_api::Page) `{items, next_page_token}`.
//!
//! A token holds the sort key of the last item served, so the next page starts right
//! after it however many rows were inserted meanwhile (no offset to shift), and a
//! fingerprint of the list's other parameters, so it is refused with different
//! filters. It carries a MAC: an edited or truncated token is refused (422) rather than
//! read as some other position. The MAC's key is not a secret, and needs not be: a
//! token grants nothing, since the filters and the caller's rights are applied again
//! on every page.

use super::ApiError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cartflow_api::Page;
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sha2::{Digest, Sha256};

type PageMac = Hmac<Sha256>;

/// The MAC's key (see the module's documentation for why it is not secret).
const MAC_KEY: &[u8] = b"cartflow page token v1";
/// Bytes of the MAC kept in the token: enough to tell an edit, short enough for a URL.
const MAC_LEN: usize = 16;

/// The paging parameters, as the OpenAPI description lists them.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Read by `Listing`; declared here for the description only.
pub struct PageParams {
    /// How many items to answer: 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500, default = 50)]
    page_size: Option<u32>,
    /// The `next_page_token` of the previous page; the other parameters must not change.
    page_token: Option<String>,
}

/// A list request: the route's own filters `Q` (from the rest of the query string,
/// unknown ones refused as the route's type says) and the page asked for.
#[derive(Debug)]
pub struct Listing<Q> {
    pub filters: Q,
    pub page: PageRequest,
}

/// Which page: its size and where the previous one ended.
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub size: u32,
    after: Option<Value>,
    scope: [u8; 8],
}

impl PageRequest {
    /// The first page of `size` items, for callers outside HTTP.
    pub fn first(size: u32) -> PageRequest {
        PageRequest {
            size,
            after: None,
            scope: [0; 8],
        }
    }

    /// The sort key of the last item of the previous page, if any: its shape is the
    /// route's (a token of another list is refused).
    pub fn after<K: DeserializeOwned>(&self) -> Result<Option<K>, ApiError> {
        self.after
            .clone()
            .map(serde_json::from_value)
            .transpose()
            .map_err(|_| invalid_token())
    }

    /// Rows to fetch: one more than the page, to tell whether another page follows.
    pub fn fetch_limit(&self) -> i64 {
        i64::from(self.size) + 1
    }

    /// The page of `rows` (fetched with [`PageRequest::fetch_limit`], in the list's
    /// order), with a token after its last item when more rows follow.
    pub fn page<T, K: Serialize>(&self, mut rows: Vec<T>, key: impl Fn(&T) -> K) -> Page<T> {
        let more = rows.len() > self.size as usize;
        rows.truncate(self.size as usize);
        let next_page_token = match (more, rows.last()) {
            (true, Some(last)) => Some(self.token_after(&key(last))),
            _ => None,
        };
        Page {
            items: rows,
            next_page_token,
        }
    }

    fn token_after(&self, key: &impl Serialize) -> String {
        let body = serde_json::to_vec(&(URL_SAFE_NO_PAD.encode(self.scope), key))
            .expect("a sort key serialises");
        let body = URL_SAFE_NO_PAD.encode(body);
        format!("{body}.{}", URL_SAFE_NO_PAD.encode(mac(body.as_bytes())))
    }
}

fn mac(body: &[u8]) -> [u8; MAC_LEN] {
    let mut mac = PageMac::new_from_slice(MAC_KEY).expect("HMAC takes any key length");
    mac.update(body);
    let full = mac.finalize().into_bytes();
    full[..MAC_LEN].try_into().expect("the MAC is longer")
}

fn invalid_token() -> ApiError {
    ApiError::invalid_field(
        "page_token",
        "page_token is not a token this list gave (or the other parameters changed)",
    )
}

/// The position a token names, if it is intact and was given for `scope`.
fn open_token(token: &str, scope: [u8; 8]) -> Result<Value, ApiError> {
    let (body, tag) = token.split_once('.').ok_or_else(invalid_token)?;
    let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| invalid_token())?;
    let mut check = PageMac::new_from_slice(MAC_KEY).expect("HMAC takes any key length");
    check.update(body.as_bytes());
    check
        .verify_truncated_left(&tag)
        .map_err(|_| invalid_token())?;
    if tag.len() != MAC_LEN {
        return Err(invalid_token());
    }
    let body = URL_SAFE_NO_PAD.decode(body).map_err(|_| invalid_token())?;
    let (given_scope, key): (String, Value) =
        serde_json::from_slice(&body).map_err(|_| invalid_token())?;
    match given_scope == URL_SAFE_NO_PAD.encode(scope) {
        true => Ok(key),
        false => Err(invalid_token()),
    }
}

/// Splits a query string into the paging parameters and the route's own.
pub fn parse_listing<Q: DeserializeOwned>(
    path: &str,
    query: Option<&str>,
) -> Result<Listing<Q>, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or(""))
        .map_err(|e| ApiError::BadRequest(format!("the query string: {e}")))?;
    let (mut size, mut token, mut rest) = (None, None, Vec::new());
    for (name, value) in pairs {
        match name.as_str() {
            "page_size" => size = Some(value),
            "page_token" => token = Some(value),
            _ => rest.push((name, value)),
        }
    }
    let size = match size {
        None => Page::<()>::DEFAULT_SIZE,
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=Page::<()>::MAX_SIZE).contains(n))
            .ok_or_else(|| {
                ApiError::invalid_field(
                    "page_size",
                    format!(
                        "page_size must be a whole number from 1 to {}",
                        Page::<()>::MAX_SIZE
                    ),
                )
            })?,
    };
    let filters = serde_urlencoded::from_str(
        &serde_urlencoded::to_string(&rest).expect("pairs of strings encode"),
    )
    .map_err(|e| ApiError::BadRequest(format!("Failed to deserialize query string: {e}")))?;
    rest.sort();
    let scope = fingerprint(path, &rest);
    let after = token.map(|t| open_token(&t, scope)).transpose()?;
    Ok(Listing {
        filters,
        page: PageRequest { size, after, scope },
    })
}

/// The list and its filters, in a few bytes: a token is good for this list only.
fn fingerprint(path: &str, filters: &[(String, String)]) -> [u8; 8] {
    let mut hash = Sha256::new();
    hash.update(path.as_bytes());
    for (name, value) in filters {
        hash.update([0]);
        hash.update(name.as_bytes());
        hash.update([0]);
        hash.update(value.as_bytes());
    }
    hash.finalize()[..8]
        .try_into()
        .expect("a SHA-256 is 32 bytes")
}

impl<Q, S> FromRequestParts<S> for Listing<Q>
where
    Q: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        parse_listing(parts.uri.path(), parts.uri.query())
    }
}

/// A list without filters of its own: any parameter besides the paging ones is refused.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoFilters {}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Filters {
        status: Option<String>,
    }

    fn listing(query: &str) -> Result<Listing<Filters>, ApiError> {
        parse_listing("/things", Some(query))
    }

    #[test]
    fn sizes_outside_one_to_five_hundred_are_refused() {
        assert_eq!(listing("").unwrap().page.size, 50);
        assert_eq!(listing("page_size=500").unwrap().page.size, 500);
        for bad in [
            "page_size=0",
            "page_size=501",
            "page_size=ten",
            "page_size=-1",
        ] {
            let err = listing(bad).unwrap_err();
            assert_eq!(err.status(), 422, "{bad}");
        }
    }

    #[test]
    fn a_token_leads_to_the_row_after_the_last_one_served() {
        let first = listing("status=open&page_size=2").unwrap();
        let page = first.page.page(vec![10, 9, 8], |n| *n);
        assert_eq!(page.items, vec![10, 9]);
        let token = page.next_page_token.expect("a third row follows");
        let next = listing(&format!("status=open&page_size=2&page_token={token}")).unwrap();
        assert_eq!(next.filters.status.as_deref(), Some("open"));
        assert_eq!(next.page.after::<i32>().unwrap(), Some(9));
        // The last page has no token.
        assert!(next.page.page(vec![8], |n| *n).next_page_token.is_none());
    }

    #[test]
    fn an_edited_token_or_one_for_other_filters_is_refused() {
        let page = listing("status=open&page_size=1")
            .unwrap()
            .page
            .page(vec![2, 1], |n| *n);
        let token = page.next_page_token.unwrap();
        let (body, tag) = token.split_once('.').unwrap();
        let edited_body = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&(
                serde_json::from_slice::<(String, i32)>(&URL_SAFE_NO_PAD.decode(body).unwrap())
                    .unwrap()
                    .0,
                1_000,
            ))
            .unwrap(),
        );
        for bad in [
            format!("{edited_body}.{tag}"),
            token[..token.len() - 2].to_string(),
            "garbage".to_string(),
        ] {
            let err = listing(&format!("status=open&page_token={bad}")).unwrap_err();
            assert_eq!(err.status(), 422, "{bad}");
        }
        let err = listing(&format!("status=closed&page_token={token}")).unwrap_err();
        assert_eq!(err.status(), 422, "a token for other filters");
        // Unknown filters are still the route's to refuse.
        assert_eq!(listing("colour=red").unwrap_err().status(), 400);
    }
}
