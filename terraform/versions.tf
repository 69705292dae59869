terraform {
  required_version = ">= 1.6"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.0"
    }
  }

  # State lives in a GCS bucket created once by hand (see the README's "Deploy to
  # Google Cloud"); its name is given at init time so that no project id is
  # hard-coded here:
  #   terraform init -backend-config="bucket=<project>-cartflow-tfstate"
  backend "gcs" {
    prefix = "cartflow"
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}
