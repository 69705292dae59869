//! Carts, their statuses, and the checks on what a customer sends.

use crate::store::CheckoutPayment;
use cartflow_api::payment::check_payment_method;
use cartflow_events::{ShippingAddress, Sku};
use serde::Deserialize;

pub const MAX_LINE_QUANTITY: i32 = 1000;
pub const MAX_LINES: usize = 100;

pub use cartflow_api::cart::{Cart, CartLine, CartStatus, Rejection};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddItem {
    pub product_sku: String,
    pub quantity: i32,
}

/// A line a customer asked for, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLine {
    pub sku: Sku,
    pub quantity: i32,
}

impl AddItem {
    pub fn parse(self) -> Result<NewLine, String> {
        let sku = Sku::parse(&self.product_sku)?;
        if !(1..=MAX_LINE_QUANTITY).contains(&self.quantity) {
            return Err(format!(
                "quantity must be between 1 and {MAX_LINE_QUANTITY}"
            ));
        }
        Ok(NewLine {
            sku,
            quantity: self.quantity,
        })
    }
}

/// `POST /cart/convert-to-order`: how the customer pays, and where the order goes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvertRequest {
    pub payment_method: Option<String>,
    pub shipping_address: Option<ShippingAddress>,
}

/// A checkout as asked: the checked payment method, and the address if the request
/// named one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutRequested {
    pub payment_method: String,
    pub shipping_address: Option<ShippingAddress>,
}

impl CheckoutRequested {
    /// The checkout's payment and address: the one asked for, else the customer's
    /// `saved` address; with neither, the problem to answer.
    pub fn ship_to(self, saved: Option<ShippingAddress>) -> Result<CheckoutPayment, String> {
        let Some(address) = self.shipping_address.or(saved) else {
            return Err(
                "shipping_address is required: this customer has no saved address; \
                 send {name, line1, line2?, city, postal_code, country}"
                    .into(),
            );
        };
        Ok(CheckoutPayment {
            payment_method: self.payment_method,
            shipping_address: address,
        })
    }
}

impl ConvertRequest {
    /// The checked payment method and address (if one was given); each problem named.
    pub fn parse(self) -> Result<CheckoutRequested, String> {
        let Some(method) = self.payment_method.map(|m| m.trim().to_string()) else {
            return Err(
                "payment_method is required: the payment method token your payment provider issued, such as pm_card_visa".into(),
            );
        };
        check_payment_method(&method)?;
        Ok(CheckoutRequested {
            payment_method: method,
            shipping_address: self
                .shipping_address
                .map(|a| a.checked("shipping_address"))
                .transpose()?,
        })
    }
}

/// Why a customer's request on a cart is refused. `Conflict` ones depend on the cart's
/// state (409); the others on what was asked (422).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A checkout is pending: the cart cannot change until it ends.
    Locked,
    AlreadyCheckingOut,
    Empty,
    TooManyLines,
    LineFull(Sku),
}

impl Refusal {
    pub fn is_conflict(&self) -> bool {
        matches!(
            self,
            Refusal::Locked | Refusal::AlreadyCheckingOut | Refusal::Empty
        )
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Locked => {
                f.write_str("the cart is being checked out and cannot change until that finishes")
            }
            Refusal::AlreadyCheckingOut => f.write_str("the cart is already being checked out"),
            Refusal::Empty => f.write_str("the cart is empty"),
            Refusal::TooManyLines => write!(f, "a cart holds at most {MAX_LINES} lines"),
            Refusal::LineFull(sku) => {
                write!(f, "a line holds at most {MAX_LINE_QUANTITY} units of {sku}")
            }
        }
    }
}

/// What an edit (adding or removing a line) does to a cart's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edit {
    /// The checkout ended without an order: the first change opens the cart again.
    pub reopen: bool,
}

/// A customer may change a cart unless its checkout is pending.
pub fn edit(status: CartStatus) -> Result<Edit, Refusal> {
    if status == CartStatus::CheckoutPending {
        return Err(Refusal::Locked);
    }
    Ok(Edit {
        reopen: status.reopens_on_edit(),
    })
}

/// A new line fits while the cart holds fewer than [`MAX_LINES`]; more of an existing
/// line always does (up to [`MAX_LINE_QUANTITY`], which the store enforces atomically).
pub fn may_add_line(lines: usize, has_line: bool) -> Result<(), Refusal> {
    if lines >= MAX_LINES && !has_line {
        return Err(Refusal::TooManyLines);
    }
    Ok(())
}

/// A cart may be checked out when it has lines and no checkout is pending; it then
/// becomes `checkout_pending` under a new checkout id.
pub fn convert(status: CartStatus, lines: usize) -> Result<(), Refusal> {
    if status == CartStatus::CheckoutPending {
        return Err(Refusal::AlreadyCheckingOut);
    }
    if lines == 0 {
        return Err(Refusal::Empty);
    }
    Ok(())
}

/// How a checkout's end changes the cart. Only the pending checkout's own answer
/// counts (a late answer for an earlier attempt changes nothing), except that an order,
/// however late, converts any cart not yet converted: an order exists, so the cart is
/// spent (order, the arbiter, made it for one of its checkouts). The store applies that
/// guard in the same `UPDATE … WHERE` that makes the change, so that two answers racing
/// each other cannot both apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckoutEnd {
    Rejected,
    Declined,
    Expired,
    Ordered,
}

impl CheckoutEnd {
    /// The status the cart moves to.
    pub fn to(self) -> CartStatus {
        match self {
            CheckoutEnd::Rejected => CartStatus::StockUnavailable,
            CheckoutEnd::Declined => CartStatus::PaymentDeclined,
            CheckoutEnd::Expired => CartStatus::CheckoutExpired,
            CheckoutEnd::Ordered => CartStatus::Converted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantity_must_be_positive_and_bounded() {
        let add = |q| {
            AddItem {
                product_sku: "A-1".into(),
                quantity: q,
            }
            .parse()
        };
        assert!(add(1).is_ok());
        assert!(add(0).unwrap_err().contains("quantity"));
        assert!(add(-3).is_err());
        assert!(add(MAX_LINE_QUANTITY + 1).is_err());
    }

    #[test]
    fn a_checkout_names_a_token_and_an_address() {
        let address = || ShippingAddress {
            name: " Jane Doe ".into(),
            line1: "1 Main St".into(),
            line2: None,
            city: "Springfield".into(),
            postal_code: "12345".into(),
            country: "us".into(),
        };
        let request = |method: Option<&str>, address: Option<ShippingAddress>| ConvertRequest {
            payment_method: method.map(str::to_string),
            shipping_address: address,
        };
        let ok = request(Some("pm_card_visa"), Some(address()))
            .parse()
            .unwrap()
            .ship_to(None)
            .unwrap();
        assert_eq!(ok.shipping_address.country, "US");
        assert_eq!(ok.shipping_address.name, "Jane Doe");
        // Without an address in the request, the saved one; without either, a refusal.
        let saved = ShippingAddress {
            city: "Shelbyville".into(),
            ..address()
        };
        let unnamed = request(Some("pm_card_visa"), None).parse().unwrap();
        assert_eq!(
            unnamed
                .clone()
                .ship_to(Some(saved.clone()))
                .unwrap()
                .shipping_address,
            saved
        );
        assert!(
            unnamed
                .ship_to(None)
                .unwrap_err()
                .contains("shipping_address is required")
        );
        let named = request(Some("pm_card_visa"), Some(address()))
            .parse()
            .unwrap();
        assert_eq!(
            named.ship_to(Some(saved)).unwrap().shipping_address.city,
            "Springfield",
            "the request's address wins over the saved one"
        );
        assert!(
            request(None, Some(address()))
                .parse()
                .unwrap_err()
                .contains("payment_method is required")
        );
        assert!(
            request(Some("4242 4242 4242 4242"), Some(address()))
                .parse()
                .unwrap_err()
                .contains("not card data")
        );
        let no_city = ShippingAddress {
            city: " ".into(),
            ..address()
        };
        assert!(
            request(Some("pm_card_visa"), Some(no_city))
                .parse()
                .unwrap_err()
                .contains("city")
        );
        let bad_country = ShippingAddress {
            country: "USA".into(),
            ..address()
        };
        assert!(
            request(Some("pm_card_visa"), Some(bad_country))
                .parse()
                .unwrap_err()
                .contains("ISO 3166-1")
        );
    }

    #[test]
    fn statuses_round_trip() {
        for s in [
            "open",
            "checkout_pending",
            "converted",
            "stock_unavailable",
            "checkout_expired",
            "payment_declined",
        ] {
            assert_eq!(CartStatus::parse(s).unwrap().as_str(), s);
        }
        for &status in CartStatus::ALL {
            assert_eq!(CartStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(CartStatus::parse("gone"), None);
    }
    #[test]
    fn a_pending_checkout_locks_the_cart_and_an_ended_one_reopens_it() {
        assert_eq!(edit(CartStatus::CheckoutPending), Err(Refusal::Locked));
        assert_eq!(edit(CartStatus::Open), Ok(Edit { reopen: false }));
        for ended in [
            CartStatus::StockUnavailable,
            CartStatus::CheckoutExpired,
            CartStatus::PaymentDeclined,
        ] {
            assert_eq!(edit(ended), Ok(Edit { reopen: true }));
        }
    }

    #[test]
    fn a_full_cart_takes_more_of_a_line_but_no_new_line() {
        assert_eq!(may_add_line(MAX_LINES - 1, false), Ok(()));
        assert_eq!(may_add_line(MAX_LINES, true), Ok(()));
        assert_eq!(may_add_line(MAX_LINES, false), Err(Refusal::TooManyLines));
        assert!(!Refusal::TooManyLines.is_conflict());
    }

    #[test]
    fn only_a_cart_with_lines_and_no_pending_checkout_converts() {
        assert_eq!(convert(CartStatus::Open, 2), Ok(()));
        assert_eq!(convert(CartStatus::StockUnavailable, 1), Ok(()));
        assert_eq!(
            convert(CartStatus::CheckoutPending, 1),
            Err(Refusal::AlreadyCheckingOut)
        );
        assert_eq!(convert(CartStatus::Open, 0), Err(Refusal::Empty));
        assert!(Refusal::Empty.is_conflict());
    }

    #[test]
    fn each_checkout_end_has_its_status() {
        assert_eq!(CheckoutEnd::Rejected.to(), CartStatus::StockUnavailable);
        assert_eq!(CheckoutEnd::Expired.to(), CartStatus::CheckoutExpired);
        assert_eq!(CheckoutEnd::Declined.to(), CartStatus::PaymentDeclined);
        assert_eq!(CheckoutEnd::Ordered.to(), CartStatus::Converted);
    }
}
