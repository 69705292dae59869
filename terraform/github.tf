# GitHub Actions signs in through Workload Identity Federation: no JSON keys. Two
# identities, both only for workflows of the repository whose numeric id is
# var.github_repository_id (a renamed or re-created repository of the same name gets
# a new id and nothing):
#   - planner: read-only, for `main` and pull requests (`terraform plan -lock=false`);
#   - deployer: builds, applies and deploys; only jobs in the "production" environment
#     (which has required reviewers) of `main` can impersonate it.

resource "google_iam_workload_identity_pool" "github" {
  workload_identity_pool_id = "${var.name}-github"
  display_name              = "GitHub Actions"
  depends_on                = [google_project_service.enabled]
}

resource "google_iam_workload_identity_pool_provider" "github" {
  # checkov:skip=CKV_GCP_125: the condition below pins the numeric repository_id claim to var.github_repository_id; checkov cannot resolve the variable and so cannot see the repository.
  workload_identity_pool_id          = google_iam_workload_identity_pool.github.workload_identity_pool_id
  workload_identity_pool_provider_id = "github-actions"
  display_name                       = "GitHub Actions OIDC"

  attribute_mapping = {
    "google.subject"          = "assertion.sub"
    "attribute.repository_id" = "assertion.repository_id"
    "attribute.ref"           = "assertion.ref"
    "attribute.event_name"    = "assertion.event_name"
    "attribute.environment"   = "has(assertion.environment) ? assertion.environment : \"none\""
  }
  # Only this repository (by id, not by name), and within it only main, pull requests
  # (the planner) and the production environment on main (the deployer).
  attribute_condition = join(" && ", [
    "assertion.repository_id == \"${var.github_repository_id}\"",
    "(assertion.ref == \"refs/heads/main\" || assertion.event_name == \"pull_request\")",
    "(!has(assertion.environment) || (assertion.environment == \"production\" && assertion.ref == \"refs/heads/main\"))",
  ])

  oidc {
    issuer_uri = "https://token.actions.githubusercontent.com"
  }
}

# --- The planner: reads everything the plan refreshes, changes nothing. ---

resource "google_service_account" "planner" {
  account_id   = "${var.name}-planner"
  display_name = "cartflow planner (GitHub Actions, read-only)"
  description  = "Runs terraform plan for main and pull requests; read-only."
}

resource "google_service_account_iam_member" "planner_from_github" {
  service_account_id = google_service_account.planner.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "principalSet://iam.googleapis.com/${google_iam_workload_identity_pool.github.name}/attribute.repository_id/${var.github_repository_id}"
}

# Viewer roles of exactly the services the configuration declares, and IAM policies
# (securityReviewer) so that the refresh sees the grants. None reads secret payloads.
resource "google_project_iam_member" "planner" {
  for_each = toset([
    "roles/artifactregistry.reader",
    "roles/browser",
    "roles/cloudsql.viewer",
    "roles/iam.securityReviewer",
    "roles/iam.serviceAccountViewer",
    "roles/iam.workloadIdentityPoolViewer",
    "roles/monitoring.viewer",
    "roles/pubsub.viewer",
    "roles/run.viewer",
    "roles/secretmanager.viewer",
    "roles/serviceusage.serviceUsageViewer",
  ])
  project = var.project_id
  role    = each.value
  member  = "serviceAccount:${google_service_account.planner.email}"
}

# Reads the state; plans run with -lock=false, so no lock object is written.
resource "google_storage_bucket_iam_member" "planner_state" {
  bucket = var.state_bucket
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.planner.email}"
}

# --- The deployer: only from the production environment. ---

resource "google_service_account" "deployer" {
  account_id   = "${var.name}-deployer"
  display_name = "cartflow deployer (GitHub Actions, production environment)"
  description  = "Builds images, runs terraform apply and deploys Cloud Run revisions from the production environment of GitHub Actions."
}

resource "google_service_account_iam_member" "deployer_from_github" {
  service_account_id = google_service_account.deployer.name
  role               = "roles/iam.workloadIdentityUser"
  # The provider's condition already admits only this repository, and "production"
  # only on main; this admits only jobs of that environment.
  member = "principalSet://iam.googleapis.com/${google_iam_workload_identity_pool.github.name}/attribute.environment/production"
}

# The deployer applies this Terraform configuration, so it needs to manage what the
# configuration declares. These are project-level by necessity (Terraform creates
# the resources they cover); nothing else runs as this account.
resource "google_project_iam_member" "deployer" {
  for_each = toset([
    "roles/artifactregistry.admin",
    "roles/cloudsql.admin",
    "roles/iam.serviceAccountAdmin",
    "roles/iam.serviceAccountUser",
    "roles/iam.workloadIdentityPoolAdmin",
    "roles/pubsub.admin",
    "roles/resourcemanager.projectIamAdmin",
    "roles/run.admin",
    "roles/secretmanager.admin",
    "roles/serviceusage.serviceUsageAdmin",
  ])
  # checkov:skip=CKV_GCP_41: the deployer must act as the runtime service accounts to deploy Cloud Run revisions that run as them; only the production environment of one repository can use it.
  # checkov:skip=CKV_GCP_49: the deployer applies this configuration, which grants roles; it is reachable only from the production environment (required reviewers) of one repository.
  project = var.project_id
  role    = each.value
  member  = "serviceAccount:${google_service_account.deployer.email}"
}

resource "google_storage_bucket_iam_member" "deployer_state" {
  bucket = var.state_bucket
  role   = "roles/storage.objectUser"
  member = "serviceAccount:${google_service_account.deployer.email}"
}
