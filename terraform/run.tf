# The eight services on Cloud Run, one image each, each as its own service account, with
# a Cloud SQL Auth Proxy sidecar that signs it in to its database (cloudsql.tf).

locals {
  # Services with timed work of their own, which no request triggers: cart's checkout
  # watchdog re-sends overdue requests and gives expired checkouts up (#18); email-push
  # retries failed sends with backoff; payment's worker calls the provider and retries
  # it. These keep CPU and one instance in push mode too; the rest publish before they
  # answer and may scale to zero (README, pull or push).
  timed_work = ["cart", "email-push", "payment"]
  keep_one_instance = {
    for name, s in local.services : name =>
    var.delivery_mode == "pull" ? length(s.consumes) > 0 : contains(local.timed_work, name)
  }
  throttle_cpu = {
    for name, _ in local.services : name =>
    var.delivery_mode == "push" && !contains(local.timed_work, name)
  }

  # Sign-in: Identity Platform / Firebase Auth of this project unless told otherwise.
  sign_in_issuer = coalesce(var.sign_in.issuer, "https://securetoken.google.com/${var.project_id}")

  # Settings every service gets; see the README's configuration table.
  common_env = {
    HOST                      = "0.0.0.0"
    LOG_FORMAT                = "json"
    PUBSUB_PROJECT_ID         = var.project_id
    PUBSUB_DELIVERY           = var.delivery_mode
    DB_MAX_CONNECTIONS        = tostring(var.db_pool_size)
    AUTH_MODE                 = "oidc"
    AUTH_ISSUER               = local.sign_in_issuer
    AUTH_AUDIENCE             = join(",", coalesce(var.sign_in.audiences, [var.project_id]))
    AUTH_JWKS_URL             = coalesce(var.sign_in.jwks_url, "https://www.googleapis.com/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com")
    AUTH_CUSTOMER_CLAIM       = var.sign_in.customer_claim
    AUTH_STAFF_CLAIM          = var.sign_in.staff_claim
    AUTH_STAFF_VALUE          = var.sign_in.staff_value
    RATE_LIMIT_IP_PER_SEC     = tostring(var.rate_limits.ip_per_sec)
    RATE_LIMIT_IP_BURST       = tostring(var.rate_limits.ip_burst)
    RATE_LIMIT_CALLER_PER_SEC = tostring(var.rate_limits.caller_per_sec)
    RATE_LIMIT_CALLER_BURST   = tostring(var.rate_limits.caller_burst)
    # Google's front end appends the client's address to X-Forwarded-For.
    RATE_LIMIT_TRUSTED_PROXY_HOPS = "1"
  }

  # Traces go to the collector sidecar on localhost, which forwards to Cloud Trace.
  tracing_env = var.tracing.enabled ? {
    OTEL_EXPORTER_OTLP_ENDPOINT = "http://localhost:4318"
    OTEL_TRACES_SAMPLER         = "parentbased_traceidratio"
    OTEL_TRACES_SAMPLER_ARG     = tostring(var.tracing.sample_ratio)
  } : {}
  # One OpenTelemetry Collector sidecar per instance carries traces to Cloud Trace and,
  # with managed_prometheus, the service's /metrics to Managed Service for Prometheus.
  collector = var.tracing.enabled || var.managed_prometheus
  collector_pipelines = merge(
    var.tracing.enabled ? {
      traces = { receivers = ["otlp"], processors = ["resourcedetection", "batch"], exporters = ["googlecloud"] }
    } : {},
    var.managed_prometheus ? {
      metrics = { receivers = ["prometheus"], processors = ["resourcedetection", "batch"], exporters = ["googlemanagedprometheus"] }
    } : {},
  )
  collector_config = yamlencode({
    receivers = merge(
      { otlp = { protocols = { http = { endpoint = "localhost:4318" } } } },
      var.managed_prometheus ? {
        prometheus = { config = { scrape_configs = [{
          job_name        = "cartflow"
          scrape_interval = "30s"
          static_configs  = [{ targets = ["localhost:8080"] }]
        }] } }
      } : {},
    )
    processors = {
      batch = {}
      # Cloud Run's own attributes (region, revision) on every span and series.
      resourcedetection = { detectors = ["env", "gcp"], timeout = "2s" }
    }
    exporters = {
      googlecloud             = { project = var.project_id }
      googlemanagedprometheus = { project = var.project_id }
    }
    extensions = { health_check = { endpoint = "localhost:13133" } }
    service = {
      extensions = ["health_check"]
      pipelines  = local.collector_pipelines
    }
  })

  service_env = {
    for name, _ in local.services : name => merge(
      local.common_env,
      local.tracing_env,
      var.delivery_mode == "push" ? {
        PUSH_AUDIENCE        = local.service_url[name]
        PUSH_SERVICE_ACCOUNT = google_service_account.pubsub_push.email
      } : {},
      name == "cart" ? {
        PRODUCT_SERVICE_URL = local.service_url["product"]
        PRODUCT_AUDIENCE    = local.service_url["product"]
      } : {},
      name == "payment" ? {
        PAYMENT_PROVIDER_URL = var.payment_provider.url
        PAYMENT_CURRENCY     = var.payment_provider.currency
      } : {},
      name == "email-push" ? merge(
        {
          SMTP_HOST     = var.smtp.host
          SMTP_PORT     = tostring(var.smtp.port)
          SMTP_SECURITY = var.smtp.security
          SMTP_FROM     = var.smtp.from
        },
        var.smtp.username == null ? {} : { SMTP_USERNAME = var.smtp.username },
      ) : {},
    )
  }
}

resource "google_cloud_run_v2_service" "service" {
  for_each            = local.services
  name                = local.run_name[each.key]
  location            = var.region
  deletion_protection = var.deletion_protection
  ingress             = contains(var.public_services, each.key) ? "INGRESS_TRAFFIC_ALL" : "INGRESS_TRAFFIC_INTERNAL_ONLY"
  labels              = { app = "cartflow", service = each.key }

  template {
    service_account                  = google_service_account.service[each.key].email
    max_instance_request_concurrency = 80
    timeout                          = "30s"

    scaling {
      # Streaming pull and timed work need a running instance; push can scale to zero.
      min_instance_count = local.keep_one_instance[each.key] ? 1 : 0
      max_instance_count = var.max_instances
    }

    containers {
      name  = each.key
      image = "${local.image_base}/${each.key}:${var.image_tag}"
      # The proxy must answer before the service connects (and migrates) at start.
      depends_on = concat(["cloud-sql-proxy"], local.collector ? ["otel-collector"] : [])

      ports {
        container_port = 8080
      }

      resources {
        limits = {
          cpu    = "1"
          memory = "256Mi"
        }
        # Streaming pull, the outbox relay and the watchdog work between requests:
        # there CPU must stay allocated ("instance-based billing"). In push mode the
        # others publish before they answer (OUTBOX_PUBLISH_BEFORE_RESPONSE).
        cpu_idle          = local.throttle_cpu[each.key]
        startup_cpu_boost = true
      }

      dynamic "env" {
        for_each = local.service_env[each.key]
        content {
          name  = env.key
          value = env.value
        }
      }

      # No password in it (IAM database authentication through the proxy sidecar
      # below), so not a secret: see local.database_url in cloudsql.tf.
      env {
        name  = "${upper(replace(each.key, "-", "_"))}_DATABASE_URL"
        value = local.database_url[each.key]
      }

      dynamic "env" {
        for_each = each.key == "email-push" && var.smtp.password_secret_id != null ? [var.smtp.password_secret_id] : []
        content {
          name = "SMTP_PASSWORD"
          value_source {
            secret_key_ref {
              secret  = env.value
              version = "latest"
            }
          }
        }
      }

      # The provider's secret key: the payment service's alone.
      dynamic "env" {
        for_each = each.key == "payment" ? [var.payment_provider.key_secret_id] : []
        content {
          name = "PAYMENT_PROVIDER_KEY"
          value_source {
            secret_key_ref {
              secret  = env.value
              version = "latest"
            }
          }
        }
      }

      dynamic "env" {
        for_each = var.admin_token_secret_id == null ? [] : [var.admin_token_secret_id]
        content {
          name = "ADMIN_TOKEN"
          value_source {
            secret_key_ref {
              secret  = env.value
              version = "latest"
            }
          }
        }
      }

      # /health: the process answers. /ready (database and Pub/Sub) is for the deploy
      # smoke test; restarting on a database outage would not help.
      startup_probe {
        http_get {
          path = "/health"
        }
        period_seconds    = 2
        failure_threshold = 30
      }

      liveness_probe {
        http_get {
          path = "/health"
        }
        period_seconds = 15
      }
    }

    # The Cloud SQL Auth Proxy: 127.0.0.1:5432 → the instance over mTLS, signed in as
    # this revision's service account (--auto-iam-authn: IAM database authentication,
    # no password anywhere). Its health endpoints serve the startup probe.
    containers {
      name  = "cloud-sql-proxy"
      image = var.cloud_sql_proxy_image
      args = [
        "--auto-iam-authn",
        "--structured-logs",
        "--address=127.0.0.1",
        "--port=5432",
        "--health-check",
        "--http-address=0.0.0.0",
        "--http-port=9801",
        # Let in-flight queries finish when Cloud Run stops the instance.
        "--max-sigterm-delay=10s",
        google_sql_database_instance.main.connection_name,
      ]
      resources {
        limits = {
          cpu    = "1"
          memory = "256Mi"
        }
        cpu_idle = local.throttle_cpu[each.key]
      }
      startup_probe {
        http_get {
          path = "/startup"
          port = 9801
        }
        period_seconds    = 2
        failure_threshold = 30
      }
    }

    # The OpenTelemetry Collector: OTLP/HTTP on localhost:4318 → Cloud Trace, and
    # /metrics → Managed Service for Prometheus.
    dynamic "containers" {
      for_each = local.collector ? [var.tracing.collector_image] : []
      content {
        name  = "otel-collector"
        image = containers.value
        args  = ["--config=env:OTELCOL_CONFIG"]
        env {
          name  = "OTELCOL_CONFIG"
          value = local.collector_config
        }
        resources {
          limits = {
            cpu    = "1"
            memory = "256Mi"
          }
          cpu_idle = local.throttle_cpu[each.key]
        }
        startup_probe {
          http_get {
            path = "/"
            port = 13133
          }
          period_seconds    = 2
          failure_threshold = 30
        }
      }
    }
  }

  depends_on = [
    google_project_service.enabled,
    google_secret_manager_secret_iam_member.admin_token,
    google_sql_user.service,
    google_project_iam_member.cloudsql_client,
    google_project_iam_member.cloudsql_instance_user,
    google_project_iam_member.cloudtrace_agent,
    google_project_iam_member.metric_writer,
  ]
}
