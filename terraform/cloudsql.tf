# One PostgreSQL instance; each service gets its own database, reached only by its own
# identity. Cloud SQL IAM database authentication: the database user of a service IS
# its service account (type CLOUD_IAM_SERVICE_ACCOUNT), and it signs in with a
# short-lived OAuth token that the Cloud SQL Auth Proxy sidecar (run.tf) fetches for it.
# No database password exists: none in the Terraform state, none in Secret Manager.
#
# Built-in users are deliberately absent: Cloud SQL makes every built-in user a member
# of cloudsqlsuperuser (CREATEROLE), which on PostgreSQL 15 lets any service grant
# itself another service's role. IAM users get no role memberships and no privileges.
#
# What Terraform cannot express (PostgreSQL roles and grants) is in
# terraform/sql/bootstrap-database.sql, which the deploy workflow applies to every
# service's database before each `terraform apply` and again after it (see that file):
#   - REVOKE ALL (CONNECT included) ON DATABASE <db> FROM PUBLIC;
#   - a NOLOGIN owner role per database (cartflow_<svc>_owner) owns the database, its
#     schema and every table: migrations run as it;
#   - a NOLOGIN role cartflow_<svc>_app with CONNECT and DML only;
#   - the service's IAM user gets those roles of its own database and nothing else;
#   - the script fails if any of these roles has CREATEROLE, CREATEDB or SUPERUSER, or
#     is a member of cloudsqlsuperuser.

resource "google_sql_database_instance" "main" {
  # checkov:skip=CKV_GCP_79: PostgreSQL 15 is what the test suite runs against; move both together.
  # checkov:skip=CKV_GCP_60: the public IP has no authorized networks, so only the IAM-checked Cloud SQL connector (client certificates required) reaches it; a private IP would need a VPC and Serverless VPC access this module does not create.
  name                = "${var.name}-postgres"
  database_version    = "POSTGRES_15"
  region              = var.region
  deletion_protection = var.deletion_protection

  settings {
    tier              = var.database_tier
    availability_type = var.database_availability
    edition           = "ENTERPRISE"

    backup_configuration {
      enabled                        = true
      point_in_time_recovery_enabled = true
    }

    # A public IP without authorized networks: only the Cloud SQL connector (which
    # Cloud Run uses, which checks IAM and presents a client certificate) reaches it.
    ip_configuration {
      ipv4_enabled = true
      ssl_mode     = "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"
    }

    insights_config {
      query_insights_enabled = true
    }

    # Services sign in as their service accounts (IAM database authentication).
    database_flags {
      name  = "cloudsql.iam_authentication"
      value = "on"
    }
    # Sized for the services' pools; see the precondition below.
    database_flags {
      name  = "max_connections"
      value = tostring(var.database_max_connections)
    }
    database_flags {
      name  = "log_checkpoints"
      value = "on"
    }
    database_flags {
      name  = "log_connections"
      value = "on"
    }
    database_flags {
      name  = "log_disconnections"
      value = "on"
    }
    database_flags {
      name  = "log_lock_waits"
      value = "on"
    }
    database_flags {
      name  = "log_min_messages"
      value = "error"
    }
    database_flags {
      name  = "log_min_error_statement"
      value = "error"
    }
    database_flags {
      name  = "log_temp_files"
      value = "0"
    }
    database_flags {
      name  = "log_min_duration_statement"
      value = "-1"
    }
    database_flags {
      name  = "cloudsql.enable_pgaudit"
      value = "on"
    }
    database_flags {
      name  = "log_statement"
      value = "ddl"
    }
    database_flags {
      name  = "log_duration"
      value = "on"
    }
    database_flags {
      name  = "log_hostname"
      value = "on"
    }
  }

  lifecycle {
    # Cloud Run scales each service to max_instances, each with a full pool: the
    # instance must accept all of them at once, or a scale-out turns into connection
    # errors exactly when load is highest.
    precondition {
      condition     = local.database_connections_needed <= var.database_max_connections
      error_message = "Services × max_instances × db_pool_size + database_reserved_connections = ${local.database_connections_needed} exceeds database_max_connections (${var.database_max_connections}): lower max_instances or db_pool_size, or raise database_max_connections (and the tier's memory with it)."
    }
  }

  depends_on = [google_project_service.enabled]
}

locals {
  database_connections_needed = length(local.services) * var.max_instances * var.db_pool_size + var.database_reserved_connections
}

resource "google_sql_database" "service" {
  for_each = local.services
  name     = each.value.database
  instance = google_sql_database_instance.main.name
}

# The service's database user is its service account: Cloud SQL names a service
# account's user by its e-mail without ".gserviceaccount.com".
resource "google_sql_user" "service" {
  for_each = local.services
  name     = local.database_user[each.key]
  instance = google_sql_database_instance.main.name
  type     = "CLOUD_IAM_SERVICE_ACCOUNT"
}

# The deploy workflow's account applies terraform/sql/bootstrap-database.sql as this
# user; the workflow makes it a member of cloudsqlsuperuser (it holds
# roles/cloudsql.admin, which could do as much through the Admin API anyway).
resource "google_sql_user" "deployer" {
  name     = trimsuffix(google_service_account.deployer.email, ".gserviceaccount.com")
  instance = google_sql_database_instance.main.name
  type     = "CLOUD_IAM_SERVICE_ACCOUNT"
}

locals {
  database_user = {
    for name, _ in local.services : name => trimsuffix(google_service_account.service[name].email, ".gserviceaccount.com")
  }
  # What each service reads as <SVC>_DATABASE_URL. No secret in it, so it is a plain
  # environment variable. The service connects to the Cloud SQL Auth Proxy sidecar on
  # localhost (plain TCP inside the instance; the proxy speaks mTLS to Cloud SQL), and
  # the proxy, started with --auto-iam-authn, signs in as the service account. The
  # user name's "@" is percent-encoded; sqlx decodes it. Cloud Run's built-in Cloud SQL
  # volume cannot do automatic IAM authentication (the client would have to send an
  # OAuth token as password), hence the sidecar.
  database_url = {
    for name, s in local.services : name => format(
      "postgres://%s@127.0.0.1:5432/%s?sslmode=disable",
      replace(local.database_user[name], "@", "%40"),
      s.database,
    )
  }
}
