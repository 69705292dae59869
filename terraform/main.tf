# cartflow on Google Cloud: Pub/Sub for events, Cloud Run for the seven services,
# Cloud SQL for their databases, Secret Manager for credentials, Artifact Registry
# for images, and Workload Identity Federation for GitHub Actions.
#
# The Pub/Sub topology is not written here: it is read from topology.json, which
# `cartflow topology` generates from the code (a test fails when the two differ).

locals {
  topology = jsondecode(file("${path.module}/topology.json"))

  services      = { for s in local.topology.services : s.name => s }
  topics        = { for t in local.topology.topics : t.name => t }
  subscriptions = { for s in local.topology.subscriptions : s.name => s }

  dead_letter_topics   = { for name, t in local.topics : name => t if t.dead_letter_of != null }
  dead_letter_policies = { for name, s in local.subscriptions : name => s if s.dead_letter_topic != null }

  # Who may publish and consume what, straight from the topology: a service publishes
  # only its own topics and pulls only its own subscriptions.
  publish_grants = merge([
    for s in local.topology.services : { for t in s.publishes : "${s.name}/${t}" => { service = s.name, topic = t } }
  ]...)
  consume_grants = merge([
    for s in local.topology.services : { for sub in s.consumes : "${s.name}/${sub}" => { service = s.name, subscription = sub } }
  ]...)

  project_number = data.google_project.this.number
  # Pub/Sub's own service agent moves messages to dead-letter topics and signs push tokens.
  pubsub_agent = "serviceAccount:service-${local.project_number}@gcp-sa-pubsub.iam.gserviceaccount.com"

  # Cloud Run's deterministic URLs (https://<service>-<project number>.<region>.run.app)
  # let services name each other without a dependency cycle.
  run_name    = { for name, _ in local.services : name => "${var.name}-${name}" }
  service_url = { for name, _ in local.services : name => "https://${var.name}-${name}-${local.project_number}.${var.region}.run.app" }

  image_base = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.images.repository_id}"
}

data "google_project" "this" {
  project_id = var.project_id
}

resource "google_project_service" "enabled" {
  for_each = toset([
    "artifactregistry.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "cloudtrace.googleapis.com",
    "iam.googleapis.com",
    "iamcredentials.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "sqladmin.googleapis.com",
    "sts.googleapis.com",
  ])
  service            = each.value
  disable_on_destroy = false
}

resource "google_artifact_registry_repository" "images" {
  # checkov:skip=CKV_GCP_84: Google-managed encryption; customer-managed keys would need a KMS key ring this module does not create. Set kms_key_name here if policy requires it.
  location      = var.region
  repository_id = var.name
  format        = "DOCKER"
  description   = "cartflow service images, one per service, tagged with the commit SHA."

  docker_config {
    # A tag is a commit: it never moves, so a rollback redeploys exactly what ran.
    immutable_tags = true
  }

  depends_on = [google_project_service.enabled]
}
