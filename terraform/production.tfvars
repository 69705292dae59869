# Production settings, committed so that every pipeline plan and apply uses the same
# values (.github/workflows/deploy.yml passes `-var-file=production.tfvars` and only
# image_tag besides). No secrets here: secrets live in Secret Manager and are named by
# id. Replace the example values with the real environment's before the first deploy;
# the plan job fails when project_id differs from the GCP_PROJECT_ID variable.
project_id           = "my-cartflow-prod"
region               = "europe-west1"
state_bucket         = "my-cartflow-prod-cartflow-tfstate"
github_repository_id = 123456789 # gh api repos/OWNER/NAME --jq .id
delivery_mode        = "pull"

smtp = {
  host               = "smtp.sendgrid.net"
  port               = 587
  security           = "starttls"
  from               = "cartflow <orders@example.com>"
  username           = "apikey"
  password_secret_id = "cartflow-smtp-password"
}

# Stripe's secret key (sk_live_...), in a secret only the payment service may read:
#   printf %s "$STRIPE_SECRET_KEY" | gcloud secrets create cartflow-stripe-key --data-file=-
payment_provider = {
  url           = "https://api.stripe.com"
  key_secret_id = "cartflow-stripe-key"
  currency      = "usd"
}

# Bearer token of the services' /admin routes, in a secret created beforehand:
#   openssl rand -hex 32 | gcloud secrets create cartflow-admin-token --data-file=-
admin_token_secret_id = "cartflow-admin-token"

alert_emails = ["oncall@example.com"]

# Who signs customers and staff in. Empty: Identity Platform / Firebase Auth of this
# project (issuer https://securetoken.google.com/<project_id>, audience <project_id>).
sign_in = {}
