//! The console's pages and their static assets, embedded in the binary. Each page is
//! one HTML fragment inside a shared layout, with one script of its own.

use super::Console;
use super::topology_graph;
use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

struct Page {
    path: &'static str,
    title: &'static str,
    body: &'static str,
    script: &'static str,
}

const PAGES: [Page; 8] = [
    Page {
        path: "/",
        title: "Overview",
        body: include_str!("pages/overview.html"),
        script: "overview.js",
    },
    Page {
        path: "/topology",
        title: "Topology",
        body: include_str!("pages/topology.html"),
        script: "topology.js",
    },
    Page {
        path: "/explorer",
        title: "Checkout explorer",
        body: include_str!("pages/explorer.html"),
        script: "explorer.js",
    },
    Page {
        path: "/dead-letters",
        title: "Dead letters",
        body: include_str!("pages/dead_letters.html"),
        script: "dead_letters.js",
    },
    Page {
        path: "/shop",
        title: "Storefront",
        body: include_str!("pages/shop.html"),
        script: "shop.js",
    },
    Page {
        path: "/payments",
        title: "Payments",
        body: include_str!("pages/payments.html"),
        script: "payments.js",
    },
    Page {
        path: "/api",
        title: "API",
        body: include_str!("pages/api.html"),
        script: "api.js",
    },
    Page {
        path: "/webhooks",
        title: "Webhooks",
        body: include_str!("pages/webhooks.html"),
        script: "webhooks.js",
    },
];

const ASSETS: [(&str, &str, &str); 10] = [
    ("console.css", "text/css", include_str!("pages/console.css")),
    (
        "common.js",
        "text/javascript",
        include_str!("pages/common.js"),
    ),
    (
        "overview.js",
        "text/javascript",
        include_str!("pages/overview.js"),
    ),
    (
        "topology.js",
        "text/javascript",
        include_str!("pages/topology.js"),
    ),
    (
        "explorer.js",
        "text/javascript",
        include_str!("pages/explorer.js"),
    ),
    (
        "dead_letters.js",
        "text/javascript",
        include_str!("pages/dead_letters.js"),
    ),
    ("shop.js", "text/javascript", include_str!("pages/shop.js")),
    (
        "payments.js",
        "text/javascript",
        include_str!("pages/payments.js"),
    ),
    ("api.js", "text/javascript", include_str!("pages/api.js")),
    (
        "webhooks.js",
        "text/javascript",
        include_str!("pages/webhooks.js"),
    ),
];

pub fn router() -> Router<Console> {
    let mut router = Router::new();
    for (i, page) in PAGES.iter().enumerate() {
        router = router.route(page.path, get(move || async move { render(&PAGES[i]) }));
    }
    for (name, content_type, text) in ASSETS {
        router = router.route(
            &format!("/assets/{name}"),
            get(move || async move {
                let mut response = text.into_response();
                let headers = response.headers_mut();
                headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
                headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
                response
            }),
        );
    }
    router
}

fn render(page: &Page) -> Response {
    let nav: String = PAGES
        .iter()
        .map(|p| {
            let current = if p.path == page.path {
                r#" aria-current="page""#
            } else {
                ""
            };
            format!(r#"<li><a href="{}"{current}>{}</a></li>"#, p.path, p.title)
        })
        .collect();
    let body = page
        .body
        .replace("{{topology_svg}}", &topology_graph::svg())
        .replace("{{topology_table}}", &topology_graph::table());
    Html(format!(
        r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · cartflow console</title>
<link rel="stylesheet" href="/assets/console.css">
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header><span class="brand">cartflow</span><nav aria-label="Console pages"><ul>{nav}</ul></nav></header>
<main id="main">
<h1>{title}</h1>
{body}
</main>
<script src="/assets/common.js"></script>
<script src="/assets/{script}"></script>
</body>
</html>
"##,
        title = page.title,
        script = page.script,
    ))
    .into_response()
}
