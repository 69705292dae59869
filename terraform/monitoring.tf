# Alerts and a dashboard in Cloud Monitoring, from the metrics Pub/Sub and Cloud Run
# report by themselves. The services' own Prometheus metrics (README, "Metrics") reach
# Cloud Monitoring only through Managed Service for Prometheus; the outbox-age alert
# reads them and is created when var.managed_prometheus has the collector sidecar
# (run.tf) send them.

locals {
  # Dead-letter subscriptions park messages by design: no backlog alert on them.
  live_subscriptions = "resource.type = \"pubsub_subscription\" AND NOT resource.label.subscription_id = ends_with(\".dead-letter\")"
  alert_channels     = [for c in google_monitoring_notification_channel.email : c.id]
}

resource "google_monitoring_notification_channel" "email" {
  for_each     = toset(var.alert_emails)
  display_name = "cartflow alerts to ${each.value}"
  type         = "email"
  labels       = { email_address = each.value }
  depends_on   = [google_project_service.enabled]
}

resource "google_monitoring_alert_policy" "dead_lettered" {
  display_name          = "cartflow: messages dead-lettered"
  combiner              = "OR"
  notification_channels = local.alert_channels
  documentation {
    content   = "A message failed every delivery attempt and was parked. See README, \"When things fail\": `cartflow dlq list`, fix the cause, `cartflow dlq replay`."
    mime_type = "text/markdown"
  }
  conditions {
    display_name = "dead-lettered messages > 0"
    condition_threshold {
      filter          = "metric.type = \"pubsub.googleapis.com/subscription/dead_letter_message_count\" AND resource.type = \"pubsub_subscription\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.label.subscription_id"]
      }
    }
  }
  depends_on = [google_project_service.enabled]
}

resource "google_monitoring_alert_policy" "backlog_age" {
  display_name          = "cartflow: a subscription is falling behind"
  combiner              = "OR"
  notification_channels = local.alert_channels
  documentation {
    content   = "The oldest unacknowledged message of a subscription is older than ${var.backlog_alert_seconds} s: its consumer is down, stuck or too slow. `/ready` of the consuming service, and its logs, say which."
    mime_type = "text/markdown"
  }
  conditions {
    display_name = "oldest unacked message age"
    condition_threshold {
      filter          = "metric.type = \"pubsub.googleapis.com/subscription/oldest_unacked_message_age\" AND ${local.live_subscriptions}"
      comparison      = "COMPARISON_GT"
      threshold_value = var.backlog_alert_seconds
      duration        = "300s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }
  depends_on = [google_project_service.enabled]
}

resource "google_monitoring_alert_policy" "outbox_age" {
  count                 = var.managed_prometheus ? 1 : 0
  display_name          = "cartflow: events waiting in an outbox"
  combiner              = "OR"
  notification_channels = local.alert_channels
  documentation {
    content   = "A service's outbox has rows older than ${var.outbox_alert_seconds} s not yet published: Pub/Sub is unreachable from it, or its relay is stuck (cartflow_outbox_oldest_waiting_seconds)."
    mime_type = "text/markdown"
  }
  conditions {
    display_name = "oldest outbox row waiting"
    condition_threshold {
      filter          = "metric.type = \"prometheus.googleapis.com/cartflow_outbox_oldest_waiting_seconds/gauge\" AND resource.type = \"prometheus_target\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.outbox_alert_seconds
      duration        = "120s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_MAX"
        cross_series_reducer = "REDUCE_MAX"
        group_by_fields      = ["metric.label.service"]
      }
    }
  }
  depends_on = [google_project_service.enabled]
}

resource "google_monitoring_alert_policy" "payment_waits_for_an_operator" {
  count                 = var.managed_prometheus ? 1 : 0
  display_name          = "cartflow: a payment waits for an operator"
  combiner              = "OR"
  notification_channels = local.alert_channels
  documentation {
    content   = "The provider refused a payment step, or an authorization went unanswered for its idempotency key's lifetime (cartflow_payment_failures_total{step}). A refused authorization is tried again later with the same key (a rotated key or a bad parameter: ours to fix); a refused capture, void or refund, or an unanswered authorization, is marked `failed` and waits for an operator. See docs/payment.md: `cartflow payments reconcile` names the difference; the console's payments page shows the error."
    mime_type = "text/markdown"
  }
  conditions {
    display_name = "payments given up for an operator"
    condition_threshold {
      filter          = "metric.type = \"prometheus.googleapis.com/cartflow_payment_failures_total/counter\" AND resource.type = \"prometheus_target\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.step"]
      }
    }
  }
  depends_on = [google_project_service.enabled]
}

resource "google_monitoring_dashboard" "cartflow" {
  dashboard_json = jsonencode({
    displayName = "cartflow"
    mosaicLayout = {
      columns = 12
      tiles = [
        for i, tile in [
          { title = "Undelivered messages per subscription", metric = "pubsub.googleapis.com/subscription/num_undelivered_messages", resource = "pubsub_subscription", aligner = "ALIGN_MAX", by = "resource.label.subscription_id" },
          { title = "Oldest unacked message age (s)", metric = "pubsub.googleapis.com/subscription/oldest_unacked_message_age", resource = "pubsub_subscription", aligner = "ALIGN_MAX", by = "resource.label.subscription_id" },
          { title = "Dead-lettered messages", metric = "pubsub.googleapis.com/subscription/dead_letter_message_count", resource = "pubsub_subscription", aligner = "ALIGN_DELTA", by = "resource.label.subscription_id" },
          { title = "Published messages per topic", metric = "pubsub.googleapis.com/topic/send_message_operation_count", resource = "pubsub_topic", aligner = "ALIGN_RATE", by = "resource.label.topic_id" },
          { title = "Cloud Run requests per service", metric = "run.googleapis.com/request_count", resource = "cloud_run_revision", aligner = "ALIGN_RATE", by = "resource.label.service_name" },
          { title = "Cloud Run request latency p99 (ms)", metric = "run.googleapis.com/request_latencies", resource = "cloud_run_revision", aligner = "ALIGN_PERCENTILE_99", by = "resource.label.service_name" },
          ] : {
          xPos   = (i % 2) * 6
          yPos   = floor(i / 2) * 4
          width  = 6
          height = 4
          widget = {
            title = tile.title
            xyChart = {
              dataSets = [{
                plotType = "LINE"
                timeSeriesQuery = {
                  timeSeriesFilter = {
                    filter = "metric.type = \"${tile.metric}\" AND resource.type = \"${tile.resource}\""
                    aggregation = {
                      alignmentPeriod    = "60s"
                      perSeriesAligner   = tile.aligner
                      crossSeriesReducer = tile.aligner == "ALIGN_PERCENTILE_99" ? "REDUCE_MAX" : "REDUCE_SUM"
                      groupByFields      = [tile.by]
                    }
                  }
                }
              }]
            }
          }
        }
      ]
    }
  })
  depends_on = [google_project_service.enabled]
}
