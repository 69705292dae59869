output "service_urls" {
  description = "Cloud Run URL of each service."
  value       = { for name, s in google_cloud_run_v2_service.service : name => s.uri }
}

output "image_repository" {
  description = "Where the deploy workflow pushes images: <this>/<service>:<commit SHA>."
  value       = local.image_base
}

output "workload_identity_provider" {
  description = "Full name of the GitHub OIDC provider: the GCP_WORKLOAD_IDENTITY_PROVIDER repository variable."
  value       = google_iam_workload_identity_pool_provider.github.name
}

output "planner_service_account" {
  description = "Read-only account GitHub Actions plans as (main and pull requests): the GCP_PLANNER_SERVICE_ACCOUNT repository variable."
  value       = google_service_account.planner.email
}

output "deployer_service_account" {
  description = "Account GitHub Actions deploys as, from the production environment only: the GCP_DEPLOYER_SERVICE_ACCOUNT variable."
  value       = google_service_account.deployer.email
}

output "database_instance" {
  description = "Cloud SQL connection name (project:region:instance)."
  value       = google_sql_database_instance.main.connection_name
}

output "database_users" {
  description = "Each service's database and its IAM database user: what the deploy workflow passes to terraform/sql/bootstrap-database.sql."
  value = {
    for name, s in local.services : name => {
      database = google_sql_database.service[name].name
      user     = google_sql_user.service[name].name
    }
  }
}

output "database_deployer_user" {
  description = "The deployer's IAM database user, which applies terraform/sql/bootstrap-database.sql."
  value       = google_sql_user.deployer.name
}

output "topics" {
  description = "Every Pub/Sub topic, saga and dead-letter."
  value       = sort([for t in google_pubsub_topic.topic : t.name])
}

output "subscriptions" {
  description = "Every Pub/Sub subscription with its topic."
  value       = { for name, s in google_pubsub_subscription.subscription : name => s.topic }
}
