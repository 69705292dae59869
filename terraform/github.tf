# GitHub Actions deploys through Workload Identity Federation: no JSON keys. Only
# workflows of var.github_repository can impersonate the deployer account.

resource "google_iam_workload_identity_pool" "github" {
  workload_identity_pool_id = "${var.name}-github"
  display_name              = "GitHub Actions"
  depends_on                = [google_project_service.enabled]
}

resource "google_iam_workload_identity_pool_provider" "github" {
  # checkov:skip=CKV_GCP_125: the condition below pins the sub claim to repo:<var.github_repository>:ref:refs/heads/main or :environment:production; checkov cannot resolve the variable and so cannot see the repository.
  workload_identity_pool_id          = google_iam_workload_identity_pool.github.workload_identity_pool_id
  workload_identity_pool_provider_id = "github-actions"
  display_name                       = "GitHub Actions OIDC"

  attribute_mapping = {
    "google.subject"       = "assertion.sub"
    "attribute.repository" = "assertion.repository"
    "attribute.ref"        = "assertion.ref"
  }
  # Only this repository's main branch (build, plan) and its "production"
  # environment (apply, deploy; gated by a required reviewer) may sign in.
  attribute_condition = "assertion.sub == \"repo:${var.github_repository}:ref:refs/heads/main\" || assertion.sub == \"repo:${var.github_repository}:environment:production\""

  oidc {
    issuer_uri = "https://token.actions.githubusercontent.com"
  }
}

resource "google_service_account" "deployer" {
  account_id   = "${var.name}-deployer"
  display_name = "cartflow deployer (GitHub Actions)"
  description  = "Runs terraform and deploys Cloud Run revisions from GitHub Actions."
}

resource "google_service_account_iam_member" "deployer_from_github" {
  service_account_id = google_service_account.deployer.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "principalSet://iam.googleapis.com/${google_iam_workload_identity_pool.github.name}/attribute.repository/${var.github_repository}"
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
  # checkov:skip=CKV_GCP_41: the deployer must act as the runtime service accounts to deploy Cloud Run revisions that run as them; only GitHub Actions of one repository can use it.
  # checkov:skip=CKV_GCP_49: the deployer applies this configuration, which grants roles; it is reachable only through Workload Identity Federation from one repository.
  project = var.project_id
  role    = each.value
  member  = "serviceAccount:${google_service_account.deployer.email}"
}

resource "google_storage_bucket_iam_member" "deployer_state" {
  bucket = var.state_bucket
  role   = "roles/storage.objectUser"
  member = "serviceAccount:${google_service_account.deployer.email}"
}
