# Topics and subscriptions exactly as the code declares them (topology.json).

resource "google_pubsub_topic" "topic" {
  for_each = local.topics
  name     = each.key

  # checkov:skip=CKV_GCP_83: Google-managed encryption; customer-managed keys (CMEK) would need a KMS key ring this module does not create. Add kms_key_name here if policy requires it.

  message_retention_duration = "${each.value.message_retention_seconds}s"
  labels = {
    app       = "cartflow"
    publisher = each.value.publisher == null ? "pubsub-dead-letter" : each.value.publisher
  }

  depends_on = [google_project_service.enabled]
}

resource "google_pubsub_subscription" "subscription" {
  for_each = local.subscriptions
  name     = each.key
  topic    = google_pubsub_topic.topic[each.value.topic].id

  ack_deadline_seconds       = each.value.ack_deadline_seconds
  enable_message_ordering    = each.value.enable_message_ordering
  message_retention_duration = "${each.value.message_retention_seconds}s"
  labels                     = { app = "cartflow" }

  # Subscriptions live as long as the topology; an idle one must not expire.
  expiration_policy {
    ttl = ""
  }

  dynamic "dead_letter_policy" {
    for_each = each.value.dead_letter_topic == null ? [] : [each.value]
    content {
      dead_letter_topic     = google_pubsub_topic.topic[dead_letter_policy.value.dead_letter_topic].id
      max_delivery_attempts = dead_letter_policy.value.max_delivery_attempts
    }
  }

  dynamic "retry_policy" {
    for_each = each.value.minimum_backoff_seconds == null ? [] : [each.value]
    content {
      minimum_backoff = "${retry_policy.value.minimum_backoff_seconds}s"
      maximum_backoff = "${retry_policy.value.maximum_backoff_seconds}s"
    }
  }

  # Push mode: Pub/Sub POSTs to the consuming service with an OIDC token signed for
  # the push account; the service checks issuer, audience and that account's email.
  dynamic "push_config" {
    for_each = var.delivery_mode == "push" && each.value.consumer != null ? [each.value.consumer] : []
    content {
      push_endpoint = "${google_cloud_run_v2_service.service[push_config.value].uri}/pubsub/push"
      oidc_token {
        service_account_email = google_service_account.pubsub_push.email
        audience              = local.service_url[push_config.value]
      }
    }
  }
}

# --- What Pub/Sub's service agent needs to dead-letter -------------------------------

resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  for_each = local.dead_letter_topics
  topic    = google_pubsub_topic.topic[each.key].name
  role     = "roles/pubsub.publisher"
  member   = local.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "dead_letter_source" {
  for_each     = local.dead_letter_policies
  subscription = google_pubsub_subscription.subscription[each.key].name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}

# --- Push delivery ----------------------------------------------------------------------

resource "google_service_account" "pubsub_push" {
  account_id   = "${var.name}-pubsub-push"
  display_name = "cartflow Pub/Sub push identity"
  description  = "Signs the OIDC tokens of push subscriptions; may only invoke the consuming services."
}

# Pub/Sub mints the push tokens as this account.
resource "google_service_account_iam_member" "pubsub_push_token_creator" {
  service_account_id = google_service_account.pubsub_push.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_agent
}

resource "google_cloud_run_v2_service_iam_member" "pubsub_push_invoker" {
  for_each = var.delivery_mode == "push" ? { for name, s in local.services : name => s if length(s.consumes) > 0 } : {}
  name     = google_cloud_run_v2_service.service[each.key].name
  location = var.region
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.pubsub_push.email}"
}
