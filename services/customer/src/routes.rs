//! `/customers` REST routes. Every change is announced through the outbox in the same
//! transaction. A customer signs up (creates their own record, whose id is theirs),
//! reads, changes and deletes it; someone else's is a 404. Staff may do all of it for
//! anyone, and list everyone. In OIDC mode a customer's record carries the email
//! address their token verified (`email` with `email_verified: true`) and no other, so
//! nobody registers or switches to someone else's address.

use crate::domain::{Customer, CustomerFields};
use crate::store;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use cartflow_api::Page;
use cartflow_events::{CustomerCreated, CustomerDeleted, CustomerUpdated};
use cartflow_kit::AppContext;
use cartflow_kit::auth::SignIn;
use cartflow_kit::db::is_unique_violation;
use cartflow_kit::http::openapi::ApiRouter;
use cartflow_kit::http::{Listing, NoFilters, PageParams, Problem};
use cartflow_kit::{ApiError, ApiJson, ApiPath, ApiResult, Caller, Staff};
use cartflow_messaging::Cause;
use chrono::{DateTime, Utc};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

/// The routes, on the service's context: its pool for reads, its outbox for changes.
pub fn router(app: AppContext) -> ApiRouter {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, replace, remove))
        .with_state(app)
}

fn not_found(id: Uuid) -> ApiError {
    ApiError::NotFound(format!("no customer with id {id}"))
}

/// Maps a unique violation to 409: the id or the email is taken. The email is not
/// echoed: the answer says that an address is registered, not which one.
fn conflict_on_duplicate(err: sqlx::Error, customer: &Customer) -> ApiError {
    if !is_unique_violation(&err) {
        return err.into();
    }
    let on_email = err
        .as_database_error()
        .and_then(|e| e.constraint())
        .is_some_and(|c| c.contains("email"));
    if on_email {
        ApiError::Conflict("a customer with this email already exists".into())
    } else {
        ApiError::Conflict(format!("a customer with id {} already exists", customer.id))
    }
}

/// Every customer, oldest sign-up first. Staff only.
#[utoipa::path(get, path = "/customers", tag = "customers", params(PageParams),
    security(("bearer" = []), ("staff_header" = [])),
    responses(
        (status = 200, description = "A page of customers, oldest first", body = Page<Customer>),
        (status = 403, description = "Not staff", body = Problem, content_type = "application/problem+json")))]
async fn list(
    State(app): State<AppContext>,
    _: Staff,
    listing: Listing<NoFilters>,
) -> ApiResult<Json<Page<Customer>>> {
    let page = listing.page;
    let after: Option<(DateTime<Utc>, Uuid)> = page.after()?;
    let rows = store::list(&app.pool, after, page.fetch_limit()).await?;
    let listed = page.page(rows, |row| (row.created_at, row.customer.id));
    Ok(Json(listed.map(|row| row.customer)))
}

/// Someone else's record is answered as if it did not exist.
fn own_record(caller: &Caller, id: Uuid) -> ApiResult<()> {
    if caller.may_access(id) {
        Ok(())
    } else {
        Err(not_found(id))
    }
}

/// One customer: the caller's own record (someone else's is a 404), or any for staff.
#[utoipa::path(get, path = "/customers/{id}", tag = "customers",
    params(("id" = Uuid, Path, description = "The customer's id")),
    security(("bearer" = []), ("customer_header" = []), ("staff_header" = [])),
    responses(
        (status = 200, description = "The customer", body = Customer),
        (status = 404, description = "No such customer, or not the caller's", body = Problem, content_type = "application/problem+json")))]
async fn show(
    State(app): State<AppContext>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Customer>> {
    own_record(&caller, id)?;
    store::get(&app.pool, id)
        .await?
        .map(Json)
        .ok_or_else(|| not_found(id))
}

/// Sign-up: a customer's record takes the caller's id and verified email; staff
/// choose any (or a new id). Announced as `customer.created`.
#[utoipa::path(post, path = "/customers", tag = "customers", request_body = CustomerFields,
    security(("bearer" = []), ("customer_header" = []), ("staff_header" = [])),
    responses(
        (status = 201, description = "Signed up; `Location` names the record", body = Customer,
            headers(("Location" = String, description = "The customer's path"))),
        (status = 403, description = "A customer signing up with another id, or an email their token did not verify", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The id or the email is registered (the email is not echoed)", body = Problem, content_type = "application/problem+json")))]
async fn create(
    State(app): State<AppContext>,
    sign_in: SignIn,
    ApiJson(body): ApiJson<CustomerFields>,
) -> ApiResult<impl IntoResponse> {
    let caller = sign_in.caller;
    let id = if caller.is_staff() {
        body.id.unwrap_or_else(Uuid::new_v4)
    } else {
        let own = caller.customer_id()?;
        if body.id.is_some_and(|asked| asked != own) {
            return Err(ApiError::Forbidden(
                "a customer signs up with their own id only".into(),
            ));
        }
        own
    };
    let customer = body.parse(id).map_err(ApiError::Unprocessable)?;
    sign_in.may_use_email(&customer.email)?;
    let mut tx = app.outbox.begin_for(Cause::command(id)).await?;
    store::insert(tx.conn(), &customer)
        .await
        .map_err(|e| conflict_on_duplicate(e, &customer))?;
    tx.publish(&CustomerCreated(customer.details())).await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/customers/{id}"))],
        Json(customer),
    ))
}

/// A customer may change their record, but not to an address they did not verify.
/// Announced as `customer.updated`.
#[utoipa::path(put, path = "/customers/{id}", tag = "customers", request_body = CustomerFields,
    params(("id" = Uuid, Path, description = "The customer's id")),
    security(("bearer" = []), ("customer_header" = []), ("staff_header" = [])),
    responses(
        (status = 200, description = "The customer as it now is", body = Customer),
        (status = 403, description = "An email the caller's token did not verify", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such customer, or not the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The email is registered to another customer", body = Problem, content_type = "application/problem+json")))]
async fn replace(
    State(app): State<AppContext>,
    sign_in: SignIn,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<CustomerFields>,
) -> ApiResult<Json<Customer>> {
    own_record(&sign_in.caller, id)?;
    if body.id.is_some_and(|body_id| body_id != id) {
        return Err(ApiError::Unprocessable(
            "the id in the body differs from the one in the path".into(),
        ));
    }
    let customer = body.parse(id).map_err(ApiError::Unprocessable)?;
    sign_in.may_use_email(&customer.email)?;
    let mut tx = app.outbox.begin_for(Cause::command(id)).await?;
    let updated = store::update(tx.conn(), &customer)
        .await
        .map_err(|e| conflict_on_duplicate(e, &customer))?;
    if !updated {
        return Err(not_found(id));
    }
    tx.publish(&CustomerUpdated(customer.details())).await?;
    tx.commit().await?;
    Ok(Json(customer))
}

/// Deletes a customer (their sign-in stops working) and announces `customer.deleted`.
#[utoipa::path(delete, path = "/customers/{id}", tag = "customers",
    params(("id" = Uuid, Path, description = "The customer's id")),
    security(("bearer" = []), ("customer_header" = []), ("staff_header" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such customer, or not the caller's", body = Problem, content_type = "application/problem+json")))]
async fn remove(
    State(app): State<AppContext>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    own_record(&caller, id)?;
    let mut tx = app.outbox.begin_for(Cause::command(id)).await?;
    if !store::delete(tx.conn(), id).await? {
        return Err(not_found(id));
    }
    cartflow_kit::auth::deleted::record(tx.conn(), id).await?;
    tx.publish(&CustomerDeleted { customer_id: id }).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
