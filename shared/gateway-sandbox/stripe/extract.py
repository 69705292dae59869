#!/usr/bin/env python3
"""Cut Stripe's published OpenAPI description down to what the gateway sandbox speaks.

Why: the sandbox claims to answer with Stripe's shapes. Its tests check every response
body against Stripe's own schemas, and those schemas are kept here, small and reviewable,
instead of the whole description (megabytes, thousands of schemas).

Usage:
    python3 extract.py SPEC [--commit SHA] [--date DATE] [--path P] [--note N] > subset.json

SPEC is `openapi/spec3.json` (or `openapi/spec3.yaml`, the same description in YAML;
reading it needs PyYAML) from https://github.com/stripe/openapi. The output keeps:

- `components.schemas`: every schema reachable from `payment_intent`, `refund`, `charge`
  and `error` by following `$ref`s, with the cuts below;
- `paths`: the routes the sandbox serves, each operation's responses (`200` and Stripe's
  `default` error) and the names of its request parameters (form fields and query);
- `x-source`: where it came from (the API version, and the commit when given).

Conversions, so that any JSON Schema validator reads it (OpenAPI 3.0 is not quite JSON
Schema): `nullable: true` becomes `type: [T, "null"]` (and `null` joins an `enum`), or
`anyOf: [..., {"type": "null"}]` for a schema without a `type` (`$ref`, `anyOf`);
`description`s are dropped (size); `x-` keys that say nothing to a validator are dropped,
except `x-expandableFields`, kept as documentation.

Cuts, so that the subset stays small (ten schemas instead of some 250):

- Expansions (properties marked `x-expansionResources`: an id unless asked for with
  `expand[]`) other than `payment_intent.latest_charge`, the one cartflow expands, lose
  their object branch: what is left (the id, or `null`) is still checked, and stricter
  than Stripe's (an expanded object there would fail, and the sandbox never sends one).
- The properties listed in CUT_PROPERTIES are replaced by `{}`, which accepts anything:
  other payment methods' details, next actions, payment-method options, and error fields
  about objects cartflow never uses. The sandbox leaves each out or answers `null`.
"""

import argparse
import json
import sys

ROOTS = ["payment_intent", "refund", "charge", "error"]

# The one expansion cartflow asks for; every other expansion keeps only its id branch.
KEEP_EXPANSIONS = {("payment_intent", "latest_charge")}

# Deep subtrees the sandbox never fills (it answers null or leaves them out).
CUT_PROPERTIES = {
    "payment_intent": [
        "amount_details",
        "automatic_payment_methods",
        "next_action",
        "payment_method_configuration_details",
        "payment_method_options",
        "processing",
        "shipping",
        "transfer_data",
        "last_payment_error",
    ],
    "charge": [
        "fraud_details",
        "radar_options",
        "refunds",
        "shipping",
        "transfer_data",
        "level3",
    ],
    "refund": ["next_action", "destination_details"],
    "api_errors": ["payment_method", "setup_intent", "source"],
    "payment_method_details_card": [
        "checks",
        "installments",
        "mandate",
        "network_token",
        "three_d_secure",
        "wallet",
        "extended_authorization",
        "incremental_authorization",
        "multicapture",
        "overcapture",
    ],
    # Every payment method's details but the card's are cut below (type stays).
}
KEEP_IN_PAYMENT_METHOD_DETAILS = {"card", "type"}

# The routes the sandbox serves and the operations on each.
ROUTES = {
    "/v1/payment_intents": ["get", "post"],
    "/v1/payment_intents/{intent}": ["get"],
    "/v1/payment_intents/{intent}/capture": ["post"],
    "/v1/payment_intents/{intent}/cancel": ["post"],
    "/v1/refunds": ["get", "post"],
}

# Keys kept as they are; everything else starting with x- is dropped.
KEEP_X = {"x-expandableFields"}


def load(path):
    with open(path, encoding="utf-8") as f:
        if path.endswith((".yaml", ".yml")):
            import yaml  # PyYAML, only for the YAML form of the description

            loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
            return yaml.load(f, Loader=loader)
        return json.load(f)


def ref_name(ref):
    prefix = "#/components/schemas/"
    if not ref.startswith(prefix):
        raise SystemExit(f"unexpected $ref {ref}")
    return ref[len(prefix) :]


def cut_object_branches(prop):
    """An expansion not used: keep the id branch (and null), drop the object branch(es)."""
    prop = dict(prop)
    prop.pop("x-expansionResources", None)
    branches = [b for b in prop.pop("anyOf", [prop]) if "$ref" not in b]
    if len(branches) != 1:
        raise SystemExit(f"an expansion without exactly one id branch: {prop}")
    rest = {k: v for k, v in prop.items() if k != "$ref"}
    return {**rest, **branches[0]}


def cut_schema(name, schema):
    """Apply the cuts to one component schema (a shallow copy)."""
    schema = dict(schema)
    props = schema.get("properties")
    if not props:
        return schema
    props = dict(props)
    cut = set(CUT_PROPERTIES.get(name, []))
    if name == "payment_method_details":
        cut |= set(props) - KEEP_IN_PAYMENT_METHOD_DETAILS
    for pname, prop in props.items():
        if pname in cut:
            props[pname] = {}
        elif "x-expansionResources" in prop and (name, pname) not in KEEP_EXPANSIONS:
            props[pname] = cut_object_branches(prop)
    schema["properties"] = props
    return schema


def refs_in(node, out):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                out.add(ref_name(value))
            elif key != "x-expansionResources":
                refs_in(value, out)
    elif isinstance(node, list):
        for value in node:
            refs_in(value, out)


def convert(node):
    """OpenAPI 3.0 → JSON Schema: nullable, descriptions and x- keys."""
    if isinstance(node, list):
        return [convert(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key in ("description", "nullable"):
            continue
        if key.startswith("x-") and key not in KEEP_X:
            continue
        if key in ("properties", "patternProperties"):
            out[key] = {k: convert(v) for k, v in value.items()}
        else:
            out[key] = convert(value)
    if node.get("nullable"):
        if "type" in out:
            types = out["type"] if isinstance(out["type"], list) else [out["type"]]
            out["type"] = types + ["null"]
            if "enum" in out and None not in out["enum"]:
                out["enum"] = out["enum"] + [None]
        elif "anyOf" in out:
            out["anyOf"] = out["anyOf"] + [{"type": "null"}]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


def parameter_names(operation, spec):
    names = sorted(p["name"] for p in operation.get("parameters", []))
    body = operation.get("requestBody", {}).get("content", {})
    form = body.get("application/x-www-form-urlencoded", {}).get("schema", {})
    if "$ref" in form:
        form = spec["components"]["schemas"][ref_name(form["$ref"])]
    return names, sorted(form.get("properties", {}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("spec")
    parser.add_argument("--commit", help="the stripe/openapi commit SPEC is from")
    parser.add_argument("--date", help="that commit's date")
    parser.add_argument("--path", default="openapi/spec3.json", help="SPEC's path there")
    parser.add_argument("--note", help="anything a reader should know about the source")
    args = parser.parse_args()

    spec = load(args.spec)
    schemas = spec["components"]["schemas"]

    paths = {}
    roots = set(ROOTS)
    for route, methods in ROUTES.items():
        entry = {}
        for method in methods:
            operation = spec["paths"][route][method]
            query, form = parameter_names(operation, spec)
            responses = {}
            for status, response in operation["responses"].items():
                schema = response["content"]["application/json"]["schema"]
                refs_in(schema, roots)
                responses[status] = convert(schema)
            entry[method] = {
                "operationId": operation.get("operationId"),
                "x-query-parameters": query,
                "x-form-parameters": form,
                "responses": responses,
            }
        paths[route] = entry

    kept = {}
    todo = sorted(roots)
    while todo:
        name = todo.pop()
        if name in kept:
            continue
        schema = cut_schema(name, schemas[name])
        kept[name] = schema
        found = set()
        refs_in(schema, found)
        todo.extend(sorted(found - set(kept)))

    subset = {
        "openapi": spec["openapi"],
        "info": {
            "title": "Stripe API: the subset cartflow's gateway sandbox speaks",
            "version": spec["info"]["version"],
        },
        "x-source": {
            "repository": "https://github.com/stripe/openapi",
            "path": args.path,
            "commit": args.commit,
            "commit_date": args.date,
            "api_version": spec["info"]["version"],
            "extracted_by": "shared/gateway-sandbox/stripe/extract.py",
            "note": args.note,
        },
        "paths": paths,
        "components": {"schemas": {n: convert(kept[n]) for n in sorted(kept)}},
    }
    json.dump(subset, sys.stdout, indent=1, sort_keys=True, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
