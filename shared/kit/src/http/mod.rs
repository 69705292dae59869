//! HTTP pieces shared by every service: the problem+json error, extractors whose
//! rejections are problem+json too, the `/health` and `/ready` probes, and the
//! operator's `/admin` routes.

pub mod admin;
mod error;
mod extract;
pub mod idempotency;
pub mod openapi;
pub mod paging;
pub mod probes;
pub mod request_id;
pub mod trace;

pub use error::{ApiError, ApiResult, FieldError, Problem};
pub use extract::{ApiBytes, ApiJson, ApiPath, ApiQuery, OptionalJson};
pub use paging::{Listing, NoFilters, PageParams, PageRequest};
