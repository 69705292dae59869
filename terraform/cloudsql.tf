# One PostgreSQL instance; each service gets its own database and user, and its
# connection URL (password included) lives in a Secret Manager secret only that
# service can read.

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

resource "random_password" "database" {
  for_each = local.services
  length   = 32
  # Letters and digits only: the password goes into a URL unescaped.
  special = false
}

resource "google_sql_user" "service" {
  for_each = local.services
  name     = "cartflow_${replace(each.key, "-", "_")}"
  instance = google_sql_database_instance.main.name
  password = random_password.database[each.key].result
}

resource "google_secret_manager_secret" "database_url" {
  for_each  = local.services
  secret_id = "${var.name}-${each.key}-database-url"
  labels    = { app = "cartflow", service = each.key }

  replication {
    auto {}
  }

  depends_on = [google_project_service.enabled]
}

resource "google_secret_manager_secret_version" "database_url" {
  for_each = local.services
  secret   = google_secret_manager_secret.database_url[each.key].id
  # sqlx reads `host=/cloudsql/...` as the Unix socket directory Cloud Run mounts.
  secret_data = format(
    "postgres://%s:%s@localhost/%s?host=/cloudsql/%s",
    google_sql_user.service[each.key].name,
    random_password.database[each.key].result,
    google_sql_database.service[each.key].name,
    google_sql_database_instance.main.connection_name,
  )
}
