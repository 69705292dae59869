"""Static checks of the delivery files that no tool here can run for real (there is no
Docker engine, no Terraform provider download and no cloud account on CI machines):

- terraform/: every .tf file parses as HCL; the Pub/Sub resources, their IAM and the
  Cloud Run services are built from topology.json (never from hand-written names); the
  subscriptions carry the dead-letter, retry and push settings from it.
- compose/prometheus.yml scrapes every service; the Grafana dashboard parses and every
  metric its queries use is documented in the metrics table of docs/observability.md;
  every image in the compose file is pinned to a version.
- README.md's picture of the services and topics is the one drawn from topology.json
  (`topology_mermaid`: print it with `--print-topology-mermaid`).
- docker-compose.emulator.yml: one container per service of the topology, built from
  the Dockerfile with its SERVICE argument; every depends_on names a real service with
  a valid condition, and service_healthy only on services that have a health check;
  PostgreSQL's init script creates exactly the topology's databases.

topology.json itself is compared with the code by the Rust test
`terraform_topology_json_matches_the_code`. Exit status 1 lists every problem."""

import json
import pathlib
import re
import sys

import hcl2
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
problems: list[str] = []


def expect(condition: bool, message: str) -> None:
    if not condition:
        problems.append(message)


def unquote(value):
    """One shape whichever `hcl2` module is imported: python-hcl2 8 keeps the quotes of
    block labels and string literals ("\"name\""); bc-python-hcl2 (checkov's fork,
    which installs over it in the same venv) wraps every attribute value in a
    one-element list. Labels and strings lose their quotes, lone values their list."""
    if isinstance(value, dict):
        return {unquote(k): unquote(v) for k, v in value.items()}
    if isinstance(value, list):
        if len(value) == 1 and not isinstance(value[0], dict):
            return unquote(value[0])
        return [unquote(v) for v in value]
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def resources(parsed: dict, kind: str) -> dict:
    found = {}
    for block in parsed.get("resource", []):
        for name, body in block.get(kind, {}).items():
            found[name] = body
    return found


def check_terraform(manifest: dict) -> None:
    parsed = {"resource": [], "locals": [], "variable": [], "output": []}
    files = sorted((ROOT / "terraform").glob("*.tf"))
    expect(len(files) >= 5, "terraform/: expected the module's .tf files")
    for path in files:
        try:
            tree = unquote(hcl2.loads(path.read_text()))
        except Exception as err:  # the parser's errors have no common base class
            problems.append(f"{path.name}: does not parse as HCL: {err}")
            continue
        for key in parsed:
            parsed[key].extend(tree.get(key, []))

    text = lambda value: json.dumps(value)
    locals_ = {k: v for block in parsed["locals"] for k, v in block.items()}
    expect("topology.json" in text(locals_.get("topology")) and "jsondecode" in text(locals_.get("topology")),
           "locals.topology must be jsondecode(file(\".../topology.json\"))")

    topics = resources(parsed, "google_pubsub_topic")
    subs = resources(parsed, "google_pubsub_subscription")
    expect(list(topics) == ["topic"], f"one for_each topic resource expected, found {list(topics)}")
    expect(list(subs) == ["subscription"], f"one for_each subscription resource expected, found {list(subs)}")
    if topics:
        expect("local.topics" in text(topics["topic"].get("for_each")), "topics must iterate local.topics")
    if subs:
        body = subs["subscription"]
        expect("local.subscriptions" in text(body.get("for_each")), "subscriptions must iterate local.subscriptions")
        for field in ("ack_deadline_seconds", "enable_message_ordering"):
            expect("each.value." + field in text(body.get(field)), f"subscription {field} must come from topology.json")
        dynamic = text(body.get("dynamic"))
        for block in ("dead_letter_policy", "retry_policy", "push_config"):
            expect(block in dynamic, f"subscription needs a dynamic {block} block")
        for field in ("max_delivery_attempts", "minimum_backoff_seconds", "maximum_backoff_seconds"):
            expect(f".value.{field}" in dynamic, f"subscription's {field} must come from topology.json")
        expect("oidc_token" in dynamic, "push subscriptions must send an OIDC token")

    for kind, name, source in [
        ("google_pubsub_topic_iam_member", "publisher", "local.publish_grants"),
        ("google_pubsub_subscription_iam_member", "subscriber", "local.consume_grants"),
        ("google_pubsub_topic_iam_member", "dead_letter_publisher", "local.dead_letter_topics"),
        ("google_pubsub_subscription_iam_member", "dead_letter_source", "local.dead_letter_policies"),
        ("google_service_account", "service", "local.services"),
        ("google_cloud_run_v2_service", "service", "local.services"),
        ("google_sql_database", "service", "local.services"),
        ("google_sql_user", "service", "local.services"),
    ]:
        body = resources(parsed, kind).get(name)
        expect(body is not None, f"missing {kind}.{name}")
        if body is not None:
            expect(source in text(body.get("for_each")), f"{kind}.{name} must iterate {source}")
    roles = text(resources(parsed, "google_pubsub_topic_iam_member")) + text(
        resources(parsed, "google_pubsub_subscription_iam_member"))
    expect("roles/pubsub.admin" not in roles and "roles/pubsub.editor" not in roles,
           "services must not get Pub/Sub admin or editor roles")

    check_database_isolation(parsed)
    check_github_identity(parsed)

    variables = {k: v for block in parsed["variable"] for k, v in block.items()}
    for name, body in variables.items():
        expect(bool(body.get("description")), f"variable {name} needs a description")
    outputs = {k: v for block in parsed["output"] for k, v in block.items()}
    for name, body in outputs.items():
        expect(bool(body.get("description")), f"output {name} needs a description")
    expect("delivery_mode" in variables, "variable delivery_mode (pull or push) is missing")

    # Every service the topology knows gets a Cloud Run service and database through
    # local.services; check the names would be valid for both.
    for service in manifest["services"]:
        expect(re.fullmatch(r"[a-z][a-z0-9-]{0,40}", service["name"]) is not None,
               f"service name {service['name']} is not a valid Cloud Run name")


IAM_SQL_USER_TYPES = {"CLOUD_IAM_SERVICE_ACCOUNT", "CLOUD_IAM_USER", "CLOUD_IAM_GROUP"}
BOOTSTRAP_SQL = ROOT / "terraform" / "sql" / "bootstrap-database.sql"


def check_database_isolation(parsed: dict) -> None:
    """#40: every database user signs in with IAM (no built-in users: Cloud SQL puts
    those in cloudsqlsuperuser, which has CREATEROLE), no database password exists in
    the state or in Secret Manager, and the grants Terraform cannot express are applied
    by the deploy from terraform/sql/bootstrap-database.sql."""
    text = json.dumps
    users = resources(parsed, "google_sql_user")
    for name, body in users.items():
        expect(body.get("type") in IAM_SQL_USER_TYPES,
               f"google_sql_user.{name}: type must be one of {sorted(IAM_SQL_USER_TYPES)} (IAM database "
               f"authentication), not {body.get('type') or 'BUILT_IN (the default)'}")
        for field in ("password", "password_wo"):
            expect(field not in body, f"google_sql_user.{name}: IAM users have no {field}")
    expect(not resources(parsed, "random_password"),
           "random_password: no database password may be generated (it would sit in the state)")
    for name, body in resources(parsed, "google_secret_manager_secret").items():
        expect("database" not in (name + text(body.get("secret_id"))).lower(),
               f"google_secret_manager_secret.{name}: no database credentials in Secret Manager")
    for name, body in resources(parsed, "google_secret_manager_secret_version").items():
        expect("sql" not in text(body).lower() and "database" not in text(body).lower(),
               f"google_secret_manager_secret_version.{name}: no database credentials in Secret Manager")
    instance = resources(parsed, "google_sql_database_instance").get("main") or {}
    flags = {f.get("name"): f.get("value") for settings in instance.get("settings", [])
             for f in settings.get("database_flags", [])}
    expect(flags.get("cloudsql.iam_authentication") == "on",
           "google_sql_database_instance.main: database flag cloudsql.iam_authentication must be on")
    # The services' URLs: through the proxy sidecar, as their IAM user, no password.
    locals_ = {k: v for block in parsed["locals"] for k, v in block.items()}
    url = text(locals_.get("database_url"))
    expect("127.0.0.1:5432" in url and "database_user" in url and ":%s@" not in url,
           "locals.database_url: the services connect to the proxy sidecar as their IAM user, without a password")
    run = text(resources(parsed, "google_cloud_run_v2_service"))
    expect("--auto-iam-authn" in run, "Cloud Run: the Cloud SQL Auth Proxy sidecar must run with --auto-iam-authn")
    expect("database_url" not in run.replace("local.database_url", ""),
           "Cloud Run: <SVC>_DATABASE_URL comes from local.database_url, not from a secret")

    sql = BOOTSTRAP_SQL.read_text() if BOOTSTRAP_SQL.exists() else ""
    expect(bool(sql), f"{BOOTSTRAP_SQL.relative_to(ROOT)} is missing")
    flat = re.sub(r"\s+", " ", re.sub(r"--[^\n]*", "", sql))
    for statement, why in [
        ('REVOKE ALL ON DATABASE :"db" FROM PUBLIC', "no other service may connect"),
        ('ALTER DATABASE :"db" OWNER TO :"owner"', "the owner role (migrations) owns the database"),
        ('REVOKE ALL ON SCHEMA public FROM PUBLIC', "PUBLIC gets nothing in the schema"),
        ('GRANT CONNECT, TEMPORARY ON DATABASE :"db" TO :"app"', "CONNECT only to the owning service's role"),
        ("rolcreaterole", "the script must fail when a service role has CREATEROLE"),
        ("cloudsqlsuperuser", "the script must fail when a service role is in cloudsqlsuperuser"),
    ]:
        expect(statement in flat, f"{BOOTSTRAP_SQL.name}: missing `{statement}` ({why})")
    expect(not re.search(r"\bCREATEROLE\b|\bCREATEDB\b|\bSUPERUSER\b", flat.replace("NOCREATEROLE", "").replace("NOCREATEDB", "")),
           f"{BOOTSTRAP_SQL.name}: grants no CREATEROLE, CREATEDB or SUPERUSER")


def check_github_identity(parsed: dict) -> None:
    """#40: GitHub Actions signs in through a provider bound to the repository's numeric
    id; a read-only planner for main and pull requests; the deployer only for the
    production environment."""
    text = json.dumps
    variables = {k: v for block in parsed["variable"] for k, v in block.items()}
    expect("number" in text((variables.get("github_repository_id") or {}).get("type")),
           "variable github_repository_id (number) is missing")
    expect("github_repository" not in variables,
           "variable github_repository: bind the federation to the numeric repository_id, not the name")
    providers = resources(parsed, "google_iam_workload_identity_pool_provider")
    for name, body in providers.items():
        condition = text(body.get("attribute_condition"))
        expect("assertion.repository_id" in condition and "var.github_repository_id" in condition,
               f"workload identity provider {name}: attribute_condition must pin assertion.repository_id")
        expect("assertion.repository " not in condition and "assertion.sub" not in condition,
               f"workload identity provider {name}: the condition must not rely on the repository name")
    accounts = resources(parsed, "google_service_account")
    expect("planner" in accounts and "deployer" in accounts, "github.tf: a planner and a deployer service account")
    bindings = resources(parsed, "google_service_account_iam_member")
    deployer = [b for b in bindings.values() if "google_service_account.deployer" in text(b.get("service_account_id"))]
    expect(len(deployer) == 1 and "attribute.environment/production" in text(deployer[0].get("member")),
           "the deployer may be impersonated only from the production environment")
    planner_roles = text([b.get("role") for b in resources(parsed, "google_project_iam_member").values()
                          if "google_service_account.planner" in text(b.get("member"))]
                         + [b.get("for_each") for b in resources(parsed, "google_project_iam_member").values()
                            if "google_service_account.planner" in text(b.get("member"))])
    expect(bool(planner_roles) and not re.search(r"admin|editor|owner|roles/iam\.serviceAccountUser|writer|accessor",
                                                 planner_roles, re.I),
           f"the planner must hold read-only roles only: {planner_roles}")


WORKFLOWS = ROOT / ".github" / "workflows"
# The only jobs that may ask GitHub for an OIDC token (Workload Identity Federation).
ID_TOKEN_JOBS = {("ci.yml", "delivery"), ("deploy.yml", "plan"), ("deploy.yml", "deploy")}


def check_workflows() -> None:
    """#40: OIDC tokens only where a job signs in, the deployer only in the production
    environment, deploy only after CI, and the committed production.tfvars passed to
    every plan."""
    flows = {path.name: yaml.safe_load(path.read_text()) for path in sorted(WORKFLOWS.glob("*.yml"))}
    for name, flow in flows.items():
        expect("id-token" not in json.dumps(flow.get("permissions")),
               f"{name}: id-token: write belongs on the jobs that sign in, not on the workflow")
        for job_name, job in (flow.get("jobs") or {}).items():
            perms = job.get("permissions")
            expect(perms is not None, f"{name}: job {job_name} must declare its permissions")
            if isinstance(perms, dict) and perms.get("id-token") == "write":
                expect((name, job_name) in ID_TOKEN_JOBS,
                       f"{name}: job {job_name} may not have id-token: write (allowed: {sorted(ID_TOKEN_JOBS)})")
            uses_deployer = "GCP_DEPLOYER_SERVICE_ACCOUNT" in json.dumps(job.get("steps"))
            expect(not uses_deployer or job.get("environment") == "production",
                   f"{name}: job {job_name} signs in as the deployer outside the production environment")
    # Every action by commit SHA, the tag it is as a comment; no checkout leaves the
    # token in .git/config for later steps (or an uploaded artifact) to find.
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            match = re.match(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$", line)
            if not match or match.group(1).startswith("./"):
                continue
            expect(re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", match.group(1)) is not None
                   and re.search(r"#\s*v\d+(\.\d+)*\b", match.group(2)) is not None,
                   f"{path.name}:{number}: pin the action to a full commit SHA with its tag as a comment "
                   f"(uses: owner/action@<40 hex> # vX.Y.Z), not {match.group(1)}")
    for name, flow in flows.items():
        for job_name, job in (flow.get("jobs") or {}).items():
            for step in job.get("steps") or []:
                if str(step.get("uses", "")).startswith("actions/checkout@"):
                    expect((step.get("with") or {}).get("persist-credentials") is False,
                           f"{name}: job {job_name}: actions/checkout needs persist-credentials: false")
    requirements = (ROOT / "scripts" / "infra-requirements.txt").read_text()
    expect(re.search(r"^zizmor==\S+$", requirements, re.M) is not None, "infra-requirements.txt: pin zizmor")
    expect("zizmor --offline" in (ROOT / "scripts" / "check-infra.sh").read_text(),
           "scripts/check-infra.sh must run zizmor --offline")

    deploy = flows.get("deploy.yml") or {}
    triggers = deploy.get(True, deploy.get("on")) or {}
    expect(set(triggers) == {"workflow_call"},
           f"deploy.yml: only ci.yml may start it, after the tests (on: workflow_call), not {sorted(triggers)}")
    callers = [(name, job) for name, flow in flows.items() for job in (flow.get("jobs") or {}).values()
               if str(job.get("uses", "")).endswith("workflows/deploy.yml")]
    expect(len(callers) == 1 and callers[0][0] == "ci.yml" and "test" in str(callers[0][1].get("needs")),
           "ci.yml must call deploy.yml from a job that needs the test job")
    deploy_text = (WORKFLOWS / "deploy.yml").read_text()
    joined = deploy_text.replace("\\\n", " ")  # shell line continuations
    plans = re.findall(r"^\s*terraform plan [^\n]*", joined, re.M)
    expect(bool(plans), "deploy.yml: no terraform plan command found")
    for plan in plans:
        expect("-var-file=production.tfvars" in plan, "deploy.yml: `terraform plan` must pass -var-file=production.tfvars")
    expect(" -var=\"project_id" not in deploy_text, "deploy.yml: settings come from production.tfvars, not -var")
    grants = [m.start() for m in re.finditer(r"scripts/apply-database-grants\.sh", deploy_text)]
    apply = deploy_text.find("terraform apply -input")
    expect(len(grants) == 2 and grants[0] < apply < grants[1],
           "deploy.yml: scripts/apply-database-grants.sh must run before and after terraform apply")
    expect("terraform/sql/bootstrap-database.sql" in (ROOT / "scripts" / "apply-database-grants.sh").read_text(),
           "scripts/apply-database-grants.sh must apply terraform/sql/bootstrap-database.sql")
    tfvars = (ROOT / "terraform" / "production.tfvars").read_text() if (ROOT / "terraform" / "production.tfvars").exists() else ""
    expect(bool(tfvars), "terraform/production.tfvars (committed, no secrets) is missing")
    try:
        settings = unquote(hcl2.loads(tfvars)) if tfvars else {}
    except Exception as err:  # the parser's errors have no common base class
        problems.append(f"production.tfvars: does not parse: {err}")
        settings = {}
    for key in ("project_id", "region", "state_bucket", "github_repository_id"):
        expect(key in settings, f"production.tfvars must set {key}")
    expect("image_tag" not in settings, "production.tfvars: image_tag is the commit, passed by the workflow")
    for line in tfvars.splitlines():
        if "=" not in line or line.lstrip().startswith("#"):
            continue
        key = line.split("=", 1)[0].strip().lower()
        expect(not re.search(r"password|token|secret|private_key|api_key", key) or key.endswith("_secret_id"),
               f"production.tfvars: `{key}` looks like a secret; name a Secret Manager secret (…_secret_id) instead")


# Images that may go unpinned: none. Every image is pinned by digest (image:tag@sha256:…);
# this machine cannot resolve a tag, so each digest was taken where at least two
# independent public sources agree on it for that tag (docker-library/repo-info for
# postgres), and three tags moved to the nearest version that has such a digest
# (docs/deployment.md). To bump one, `docker buildx imagetools inspect IMAGE:TAG`
# prints the index digest. An image added without a digest fails.
KNOWN_UNPINNED_IMAGES: set[str] = set()
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def check_image_digests() -> None:
    """Compose images, the Dockerfile's base images and the Cloud Run sidecars by digest,
    apart from the known exceptions above."""
    images = []
    compose = yaml.safe_load((ROOT / "docker-compose.emulator.yml").read_text())
    images += [("compose " + name, body["image"]) for name, body in compose.get("services", {}).items() if body.get("image")]
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = set(re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)", dockerfile, re.M | re.I))
    images += [("Dockerfile", ref) for ref in re.findall(r"^FROM\s+(?:--platform=\S+\s+)?(\S+)", dockerfile, re.M | re.I)
               if ref not in stages]
    variables = (ROOT / "terraform" / "variables.tf").read_text()
    images += [("terraform/variables.tf", ref) for ref in re.findall(r'"((?:[\w.-]+/)+[\w.-]+:[\w.-]+(?:@sha256:[0-9a-f]{64})?)"', variables)]
    for where, image in images:
        if DIGEST.search(image):
            continue
        expect(image in KNOWN_UNPINNED_IMAGES, f"{where}: pin {image} by digest (image:tag@sha256:...)")
    stale = KNOWN_UNPINNED_IMAGES - {image for _, image in images}
    expect(not stale, f"KNOWN_UNPINNED_IMAGES lists images no longer used (remove them): {sorted(stale)}")


def check_image_lists(manifest: dict) -> None:
    """Every place that builds the services' images names every service of the
    topology: a service left out deploys no image (Terraform still creates it)."""
    wanted = {s["name"] for s in manifest["services"]}
    deploy = yaml.safe_load((WORKFLOWS / "deploy.yml").read_text())
    listed = set(str((deploy.get("env") or {}).get("SERVICES", "")).split())
    expect(listed == wanted, f"deploy.yml: env SERVICES must list every service of topology.json "
                             f"(missing {sorted(wanted - listed)}, unknown {sorted(listed - wanted)})")
    guide = (ROOT / "docs" / "deployment.md").read_text()
    loops = re.findall(r"^for s in ([^;]+); do$", guide, re.M)
    expect(bool(loops), "docs/deployment.md: the first images' `for s in ...; do` loop is missing")
    for loop in loops:
        named = set(loop.split())
        expect(named == wanted, f"docs/deployment.md: the first images' loop must build every service "
                                f"(missing {sorted(wanted - named)}, unknown {sorted(named - wanted)})")


def check_rust_version() -> None:
    """One Rust version: CI's RUST_VERSION, the Dockerfile's ARG RUST_VERSION and the
    workspace's rust-version (the minimum it claims is the one CI builds with)."""
    cargo = re.search(r'^\[workspace\.package\][^\[]*?^rust-version\s*=\s*"([^"]+)"',
                      (ROOT / "Cargo.toml").read_text(), re.M | re.S)
    docker = re.search(r"^ARG RUST_VERSION=(\S+)", (ROOT / "Dockerfile").read_text(), re.M)
    ci = (yaml.safe_load((WORKFLOWS / "ci.yml").read_text()).get("env") or {}).get("RUST_VERSION")
    found = {"Cargo.toml [workspace.package] rust-version": cargo and cargo.group(1),
             "Dockerfile ARG RUST_VERSION": docker and docker.group(1),
             "ci.yml env.RUST_VERSION": ci and str(ci)}
    expect(all(found.values()) and len(set(found.values())) == 1, f"one Rust version everywhere: {found}")
    ci_text = (WORKFLOWS / "ci.yml").read_text()
    expect("rust-toolchain@" not in ci_text and "RUST_VERSION" in ci_text.split("steps:", 1)[-1],
           "ci.yml must install env.RUST_VERSION, not a floating toolchain")
    expect(re.search(r"^FROM rust:\$\{RUST_VERSION\}", (ROOT / "Dockerfile").read_text(), re.M) is not None,
           "Dockerfile: the build stage must use rust:${RUST_VERSION}")


VALID_CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}


def check_compose(manifest: dict) -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.emulator.yml").read_text())
    services = compose.get("services", {})
    dockerfile = (ROOT / "Dockerfile").read_text()
    image_has_healthcheck = "HEALTHCHECK" in dockerfile

    for service in manifest["services"]:
        name = service["name"]
        body = services.get(name)
        expect(body is not None, f"compose: no container for the {name} service")
        if body is None:
            continue
        args = (body.get("build") or {}).get("args") or {}
        expect(args.get("SERVICE") == name, f"compose: {name} must build with SERVICE={name}")
        env = body.get("environment") or {}
        expect("PUBSUB_EMULATOR_HOST" in env, f"compose: {name} needs PUBSUB_EMULATOR_HOST")
        expect(env.get("HOST") == "0.0.0.0", f"compose: {name} must listen on 0.0.0.0")
        deps = body.get("depends_on") or {}
        expect("provision" in deps and "postgres" in deps, f"compose: {name} must wait for provision and postgres")

    for name, body in services.items():
        for dep, spec in (body.get("depends_on") or {}).items():
            expect(dep in services, f"compose: {name} depends on unknown service {dep}")
            condition = (spec or {}).get("condition", "service_started")
            expect(condition in VALID_CONDITIONS, f"compose: {name} → {dep}: invalid condition {condition}")
            if condition == "service_healthy" and dep in services:
                target = services[dep]
                built_service = "build" in target and (target["build"] or {}).get("target") in (None, "service")
                expect("healthcheck" in target or (built_service and image_has_healthcheck),
                       f"compose: {name} waits for {dep} to be healthy, but {dep} has no health check")
    published = [str(p) for body in services.values() for p in body.get("ports", [])]
    # Header sign-in, a superuser with a known password, an open emulator: loopback only.
    for name, body in services.items():
        for port in body.get("ports", []):
            expect(isinstance(port, str) and port.startswith("127.0.0.1:") and port.count(":") == 2,
                   f"compose: {name} publishes {port!r}; bind it to the loopback interface (\"127.0.0.1:HOST:CONTAINER\")")
        expect(body.get("network_mode") != "host", f"compose: {name} must not use the host network")
    host_ports = [p.split(":")[-2] if p.count(":") >= 1 else p for p in published]
    expect(len(host_ports) == len(set(host_ports)), f"compose: a host port is published twice: {host_ports}")
    for service in manifest["services"]:
        expect(f"127.0.0.1:{service['port']}:8080" in published,
               f"compose: {service['name']} should be published on its SPEC port {service['port']}")

    # The console reaches every service by its compose name.
    console = services.get("console") or {}
    expect((console.get("build") or {}).get("target") == "console", "compose: no console built from the Dockerfile's console target")
    urls = dict(pair.split("=", 1) for pair in ((console.get("environment") or {}).get("CONSOLE_SERVICE_URLS") or "").split(",") if "=" in pair)
    for service in manifest["services"]:
        expect(urls.get(service["name"]) == f"http://{service['name']}:8080",
               f"compose: the console's CONSOLE_SERVICE_URLS must send {service['name']} to http://{service['name']}:8080")

    init = (ROOT / "compose" / "postgres-init.sql").read_text()
    created = set(re.findall(r"CREATE DATABASE (\w+);", init))
    wanted = {s["database"] for s in manifest["services"]}
    expect(created == wanted, f"compose/postgres-init.sql creates {sorted(created)}, the topology needs {sorted(wanted)}")


def check_monitoring(manifest: dict) -> None:
    prometheus = yaml.safe_load((ROOT / "compose" / "prometheus.yml").read_text())
    targets = {t for job in prometheus.get("scrape_configs", [])
               for sc in job.get("static_configs", []) for t in sc.get("targets", [])}
    for service in manifest["services"]:
        expect(f"{service['name']}:8080" in targets, f"compose/prometheus.yml does not scrape {service['name']}")

    metrics_page = ROOT / "docs" / "observability.md"
    documented = set(re.findall(r"`(cartflow_[a-z_]+)`", metrics_page.read_text()))
    dashboard_path = ROOT / "compose" / "grafana" / "dashboards" / "cartflow.json"
    try:
        dashboard = json.loads(dashboard_path.read_text())
    except ValueError as err:
        problems.append(f"{dashboard_path.name}: not JSON: {err}")
        return
    panels = dashboard.get("panels", [])
    expect(len(panels) >= 6, "the cartflow dashboard should have its panels")
    for panel in panels:
        for target in panel.get("targets", []):
            for name in re.findall(r"\b(cartflow_[a-z_]+)", target.get("expr", "")):
                base = re.sub(r"_(bucket|count|sum)$", "", name)
                expect(base in documented,
                       f"dashboard panel '{panel.get('title')}' uses {name}, which docs/observability.md does not document")

    compose = yaml.safe_load((ROOT / "docker-compose.emulator.yml").read_text())
    services = compose.get("services", {})
    # Traces: every service exports OTLP/HTTP to a trace backend of the compose file.
    for service in manifest["services"]:
        env = (services.get(service["name"]) or {}).get("environment") or {}
        endpoint = env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "") if isinstance(env, dict) else ""
        host = re.match(r"^http://([a-z0-9-]+):4318/?$", endpoint)
        expect(host is not None and host.group(1) in services,
               f"compose: {service['name']} does not export traces to an OTLP/HTTP backend of the compose file")
    for name, body in compose.get("services", {}).items():
        image = body.get("image")
        if image:
            tag = image.rsplit(":", 1)[-1] if ":" in image else ""
            expect(tag not in ("", "latest"), f"compose: {name} uses an unpinned image {image}")


def topology_mermaid(manifest: dict) -> str:
    """The README's picture: every service (with its port) → the topics it publishes →
    the services that consume them, dead-letter topics left out."""
    def node(kind: str, name: str) -> str:
        return kind + "_" + re.sub(r"[^A-Za-z0-9]", "_", name)
    lines = ["```mermaid", "flowchart LR"]
    for service in manifest["services"]:
        topics = [t["name"] for t in manifest["topics"] if t["publisher"] == service["name"] and not t["dead_letter_of"]]
        targets = " & ".join(f'{node("t", topic)}(["{topic}"])' for topic in topics)
        lines.append(f'    {node("s", service["name"])}["{service["name"]} :{service["port"]}"] --> {targets}')
    for topic in manifest["topics"]:
        if topic["dead_letter_of"]:
            continue
        consumers = [s["consumer"] for s in manifest["subscriptions"] if s["topic"] == topic["name"] and s["consumer"]]
        if consumers:
            lines.append(f'    {node("t", topic["name"])} --> ' + " & ".join(node("s", c) for c in consumers))
    lines.append("```")
    return "\n".join(lines) + "\n"


def check_readme_picture(manifest: dict) -> None:
    expect(topology_mermaid(manifest) in (ROOT / "README.md").read_text(),
           "README.md: the services-and-topics picture differs from topology.json "
           "(python3 scripts/check_infra.py --print-topology-mermaid prints the right one)")


def main() -> int:
    manifest = json.loads((ROOT / "terraform" / "topology.json").read_text())
    if sys.argv[1:] == ["--print-topology-mermaid"]:
        print(topology_mermaid(manifest), end="")
        return 0
    check_readme_picture(manifest)
    check_terraform(manifest)
    check_compose(manifest)
    check_monitoring(manifest)
    check_workflows()
    check_image_lists(manifest)
    check_rust_version()
    check_image_digests()
    if problems:
        print(f"{len(problems)} problem(s) in the delivery files:", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        return 1
    print("terraform/ parses and follows topology.json; the compose file and its monitoring are consistent")
    return 0


if __name__ == "__main__":
    sys.exit(main())
