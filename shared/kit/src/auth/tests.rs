use super::authenticator::from_headers;
use super::*;
use crate::http::ApiError;
use axum::http::HeaderMap;
use axum::http::HeaderValue;
use uuid::Uuid;

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.insert(*name, HeaderValue::from_str(value).unwrap());
    }
    map
}

#[test]
fn header_mode_reads_the_customer_and_the_role() {
    let id = Uuid::new_v4();
    let as_customer = from_headers(&headers(&[("x-customer-id", &id.to_string())]));
    assert_eq!(as_customer.unwrap(), Some(Caller::customer(id)));
    let as_staff = from_headers(&headers(&[("x-role", "staff")]));
    assert_eq!(as_staff.unwrap(), Some(Caller::staff(None)));
    assert_eq!(from_headers(&HeaderMap::new()).unwrap(), None);
    let bad = from_headers(&headers(&[("x-customer-id", "nope")]));
    assert!(matches!(bad, Err(ApiError::BadRequest(_))));
    let bad_role = from_headers(&headers(&[("x-role", "admin")]));
    assert!(matches!(bad_role, Err(ApiError::BadRequest(_))));
}

#[test]
fn a_customer_lists_only_their_own_and_staff_what_they_ask_for() {
    let (own, other) = (Uuid::new_v4(), Uuid::new_v4());
    let customer = Caller::customer(own);
    assert_eq!(customer.list_filter(None), Ok(Some(own)));
    assert_eq!(customer.list_filter(Some(own)), Ok(Some(own)));
    assert_eq!(customer.list_filter(Some(other)), Err(NothingVisible));
    let staff = Caller::staff(Some(own));
    assert_eq!(staff.list_filter(None), Ok(None));
    assert_eq!(staff.list_filter(Some(other)), Ok(Some(other)));
    assert!(customer.may_access(own) && !customer.may_access(other));
    assert!(staff.may_access(other));
    assert!(customer.require_staff().is_err() && staff.require_staff().is_ok());
    assert!(Caller::staff(None).customer_id().is_err());
}

#[test]
fn a_non_uuid_subject_maps_to_the_same_uuid_every_time() {
    let uid = "x8Jd2kQ9mZTz0firebaseUid01";
    let a = customer_id_for("https://securetoken.google.com/p", uid);
    assert_eq!(a, customer_id_for("https://securetoken.google.com/p", uid));
    assert_ne!(a, customer_id_for("https://other.example", uid));
    let id = Uuid::new_v4();
    assert_eq!(customer_id_for("https://x", &id.to_string()), id);
}
