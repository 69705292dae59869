variable "project_id" {
  description = "Google Cloud project that holds one cartflow environment (one project per environment)."
  type        = string
}

variable "region" {
  description = "Region for Cloud Run, Cloud SQL and Artifact Registry."
  type        = string
  default     = "europe-west1"
}

variable "name" {
  description = "Prefix of every resource name that is not fixed by the code (Cloud Run services, Cloud SQL instance, service accounts)."
  type        = string
  default     = "cartflow"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,14}$", var.name))
    error_message = "name: 2-15 characters, lower-case letters, digits and hyphens, starting with a letter."
  }
}

variable "image_tag" {
  description = "Tag of the service images to run (the deploy workflow passes the commit SHA)."
  type        = string
}

variable "delivery_mode" {
  description = "How services receive events: \"pull\" (streaming pull; instances keep CPU allocated and at least one runs) or \"push\" (Pub/Sub POSTs to /pubsub/push with an OIDC token; instances may scale to zero)."
  type        = string
  default     = "pull"

  validation {
    condition     = contains(["pull", "push"], var.delivery_mode)
    error_message = "delivery_mode must be \"pull\" or \"push\"."
  }
}

variable "max_instances" {
  description = "Upper bound of Cloud Run instances per service."
  type        = number
  default     = 3
}

variable "public_services" {
  description = "Services whose HTTP API is reachable from outside Google Cloud (ingress \"all\"). The others accept only internal traffic (Pub/Sub push, other services)."
  type        = list(string)
  default     = ["cart", "customer", "order", "product", "notification"]
}

variable "api_invokers" {
  description = "IAM members allowed to call the public services (e.g. a load balancer's or API gateway's service account, or \"allUsers\" for an open demo). Empty: only callers with roles/run.invoker granted elsewhere."
  type        = list(string)
  default     = []
}

variable "db_pool_size" {
  description = "PostgreSQL connections per service instance (DB_MAX_CONNECTIONS). Services consume in batches, so a few busy connections serve each one."
  type        = number
  default     = 5
}

variable "database_max_connections" {
  description = "The Cloud SQL instance's max_connections flag. The plan fails unless it covers every service at max_instances with a full pool, plus database_reserved_connections."
  type        = number
  default     = 150
}

variable "database_reserved_connections" {
  description = "Connections kept free for operators, migrations and the deploy's checks, on top of the services' pools."
  type        = number
  default     = 15
}

variable "database_tier" {
  description = "Cloud SQL machine tier."
  type        = string
  default     = "db-custom-1-3840"
}

variable "database_availability" {
  description = "Cloud SQL availability: ZONAL or REGIONAL (high availability)."
  type        = string
  default     = "REGIONAL"
}

variable "deletion_protection" {
  description = "Protect the Cloud SQL instance and Cloud Run services from `terraform destroy`. Turn off only for throw-away environments."
  type        = bool
  default     = true
}

variable "payment_provider" {
  description = "The payment provider the payment service charges through (Stripe's PaymentIntents API; the sandbox speaks the same subset). The secret key is read from the Secret Manager secret named by key_secret_id, created outside Terraform so it never enters the state; only the payment service's account may read it."
  type = object({
    url           = optional(string, "https://api.stripe.com")
    key_secret_id = string
    currency      = optional(string, "usd")
  })

  validation {
    condition     = startswith(var.payment_provider.url, "https://")
    error_message = "payment_provider.url must be an https:// URL (Stripe: https://api.stripe.com)."
  }
}

variable "admin_token_secret_id" {
  description = "Secret Manager secret holding the bearer token of every service's /admin routes (dead-letter and event-log replay). Created outside Terraform so the token never enters the state. Null leaves those routes answering 401."
  type        = string
  default     = null
}

variable "sign_in" {
  description = "The OpenID Connect issuer whose ID tokens customers and staff sign in with (AUTH_MODE=oidc). Unset fields default to Identity Platform / Firebase Auth of this project. Staff are the callers whose staff_claim equals (or, as a list, contains) staff_value: set it as a custom claim in the issuer."
  type = object({
    issuer         = optional(string)
    audiences      = optional(list(string))
    jwks_url       = optional(string)
    customer_claim = optional(string, "sub")
    staff_claim    = optional(string, "role")
    staff_value    = optional(string, "staff")
  })
  default = {}
}

variable "rate_limits" {
  description = "Requests per second (and bursts) per client IP and per signed-in caller, on every service's own routes. 0 turns one off."
  type = object({
    ip_per_sec     = optional(number, 50)
    ip_burst       = optional(number, 100)
    caller_per_sec = optional(number, 10)
    caller_burst   = optional(number, 30)
  })
  default = {}
}

variable "tracing" {
  description = "OpenTelemetry traces to Cloud Trace: each service exports OTLP/HTTP to a collector sidecar (pinned image; the same sidecar carries /metrics with managed_prometheus) that forwards to Cloud Trace as the service's account. sample_ratio is the share of checkouts traced (every hop follows the first span's decision)."
  type = object({
    enabled         = optional(bool, true)
    sample_ratio    = optional(number, 0.1)
    collector_image = optional(string, "otel/opentelemetry-collector-contrib:0.111.0@sha256:a2a52e43c1a80aa94120ad78c2db68780eb90e6d11c8db5b3ce2f6a0cc6b5029")
  })
  default = {}
  validation {
    condition     = var.tracing.sample_ratio >= 0 && var.tracing.sample_ratio <= 1
    error_message = "tracing.sample_ratio must be between 0 and 1."
  }
}

variable "cloud_sql_proxy_image" {
  description = "The Cloud SQL Auth Proxy sidecar of every service (pinned version): it signs the service in to its database with IAM database authentication."
  type        = string
  default     = "gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.22.0@sha256:fa4c7308245407157c5e9c4e16f1c0f1113899d6f29dc8f8be3e30efae86467f"
}

variable "alert_emails" {
  description = "Addresses that get the Cloud Monitoring alerts (dead letters, subscription backlog age, outbox age). Empty: the alerts exist but notify nobody."
  type        = list(string)
  default     = []
}

variable "backlog_alert_seconds" {
  description = "Alert when a subscription's oldest unacknowledged message is older than this many seconds for 5 minutes."
  type        = number
  default     = 300
}

variable "outbox_alert_seconds" {
  description = "Alert when a service's oldest unpublished outbox row is older than this many seconds (needs managed_prometheus)."
  type        = number
  default     = 60
}

variable "managed_prometheus" {
  description = "Whether the collector sidecar sends each service's /metrics to Managed Service for Prometheus (every 30 s). Creates the outbox-age alert, which reads those metrics."
  type        = bool
  default     = false
}

variable "smtp" {
  description = "Mail server for the email-push service. The password, if any, is read from the Secret Manager secret named by password_secret_id (created outside Terraform so it never enters the state)."
  type = object({
    host               = string
    port               = number
    security           = string
    from               = string
    username           = optional(string)
    password_secret_id = optional(string)
  })
  default = {
    host     = "smtp.example.com"
    port     = 587
    security = "starttls"
    from     = "cartflow <orders@example.com>"
  }
}

variable "github_repository_id" {
  description = "Numeric id of the GitHub repository whose Actions may plan and deploy through Workload Identity Federation (`gh api repos/OWNER/NAME --jq .id`). An id, not owner/name: a deleted and re-created repository, or a renamed owner, gets a new id."
  type        = number

  validation {
    condition     = var.github_repository_id > 0 && floor(var.github_repository_id) == var.github_repository_id
    error_message = "github_repository_id is the repository's numeric id (gh api repos/OWNER/NAME --jq .id)."
  }
}

variable "state_bucket" {
  description = "Name of the GCS bucket holding this Terraform state; the deployer account gets read/write on it."
  type        = string
}
