# One service account per service, with least privilege:
# - publish only to the topics it owns, pull only from its own subscriptions
#   (and read those topics, which its /ready probe does, and the retention of what
#   it consumes);
# - connect to Cloud SQL as its own IAM database user (no password), and read only
#   the admin token secret.

resource "google_service_account" "service" {
  for_each     = local.services
  account_id   = "${var.name}-${each.key}"
  display_name = "cartflow ${each.key} service"
}

resource "google_pubsub_topic_iam_member" "publisher" {
  for_each = local.publish_grants
  topic    = google_pubsub_topic.topic[each.value.topic].name
  role     = "roles/pubsub.publisher"
  member   = "serviceAccount:${google_service_account.service[each.value.service].email}"
}

resource "google_pubsub_topic_iam_member" "readiness_viewer" {
  for_each = local.publish_grants
  topic    = google_pubsub_topic.topic[each.value.topic].name
  role     = "roles/pubsub.viewer"
  member   = "serviceAccount:${google_service_account.service[each.value.service].email}"
}

resource "google_pubsub_subscription_iam_member" "subscriber" {
  for_each     = local.consume_grants
  subscription = google_pubsub_subscription.subscription[each.value.subscription].name
  role         = "roles/pubsub.subscriber"
  member       = "serviceAccount:${google_service_account.service[each.value.service].email}"
}

# At start-up a service reads the message retention of its subscriptions, of their
# dead-letter subscriptions and of their topics, and refuses a dedup window they
# outlast (README, "Retention"). Viewer on exactly those, nothing else.
resource "google_pubsub_subscription_iam_member" "retention_viewer" {
  for_each     = local.consume_grants
  subscription = google_pubsub_subscription.subscription[each.value.subscription].name
  role         = "roles/pubsub.viewer"
  member       = "serviceAccount:${google_service_account.service[each.value.service].email}"
}

resource "google_pubsub_subscription_iam_member" "dead_letter_retention_viewer" {
  for_each     = local.consume_grants
  subscription = google_pubsub_subscription.subscription[local.subscriptions[each.value.subscription].dead_letter_topic].name
  role         = "roles/pubsub.viewer"
  member       = "serviceAccount:${google_service_account.service[each.value.service].email}"
}

resource "google_pubsub_topic_iam_member" "retention_viewer" {
  for_each = local.consume_grants
  topic    = google_pubsub_topic.topic[local.subscriptions[each.value.subscription].topic].name
  role     = "roles/pubsub.viewer"
  member   = "serviceAccount:${google_service_account.service[each.value.service].email}"
}

# Cloud SQL's client and instance-user roles exist only at project level: the first
# lets the proxy sidecar open a connection, the second lets the account sign in as its
# IAM database user. What that user may touch inside PostgreSQL is decided by
# terraform/sql/bootstrap-database.sql: its own database, nothing else.
resource "google_project_iam_member" "cloudsql_client" {
  for_each = local.services
  project  = var.project_id
  role     = "roles/cloudsql.client"
  member   = "serviceAccount:${google_service_account.service[each.key].email}"
}

resource "google_project_iam_member" "cloudsql_instance_user" {
  for_each = local.services
  project  = var.project_id
  role     = "roles/cloudsql.instanceUser"
  member   = "serviceAccount:${google_service_account.service[each.key].email}"
}

# The collector sidecar writes the service's spans to Cloud Trace as its account.
resource "google_project_iam_member" "cloudtrace_agent" {
  for_each = var.tracing.enabled ? local.services : {}
  project  = var.project_id
  role     = "roles/cloudtrace.agent"
  member   = "serviceAccount:${google_service_account.service[each.key].email}"
}

# The sidecar writes the service's Prometheus series as its account.
resource "google_project_iam_member" "metric_writer" {
  for_each = var.managed_prometheus ? local.services : {}
  project  = var.project_id
  role     = "roles/monitoring.metricWriter"
  member   = "serviceAccount:${google_service_account.service[each.key].email}"
}

resource "google_secret_manager_secret_iam_member" "admin_token" {
  for_each  = var.admin_token_secret_id == null ? {} : local.services
  secret_id = var.admin_token_secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.service[each.key].email}"
}

resource "google_secret_manager_secret_iam_member" "smtp_password" {
  count     = var.smtp.password_secret_id == null ? 0 : 1
  secret_id = var.smtp.password_secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.service["email-push"].email}"
}

# The payment provider's secret key: only the payment service reads it.
resource "google_secret_manager_secret_iam_member" "payment_provider_key" {
  secret_id = var.payment_provider.key_secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.service["payment"].email}"
}

# The cart asks the product service for prices, with an ID token for its URL.
resource "google_cloud_run_v2_service_iam_member" "cart_calls_product" {
  name     = google_cloud_run_v2_service.service["product"].name
  location = var.region
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.service["cart"].email}"
}

resource "google_cloud_run_v2_service_iam_member" "api_invoker" {
  for_each = {
    for pair in setproduct(var.public_services, var.api_invokers) : "${pair[0]}/${pair[1]}" => { service = pair[0], member = pair[1] }
  }
  name     = google_cloud_run_v2_service.service[each.value.service].name
  location = var.region
  role     = "roles/run.invoker"
  member   = each.value.member
}
