//! The walk-through that `cartflow dev` prints, rendered from its one source,
//! `walkthrough.sh`; the README shows the same file with the local default addresses
//! (a test below keeps the two equal).

use cartflow_events::Service;

const TEMPLATE: &str = include_str!("walkthrough.sh");

/// The services the template names, by placeholder.
const PLACES: [(&str, Service); 6] = [
    ("{cart}", Service::Cart),
    ("{order}", Service::Order),
    ("{inventory}", Service::Inventory),
    ("{notification}", Service::Notification),
    ("{email_push}", Service::EmailPush),
    ("{payment}", Service::Payment),
];

/// The walk-through with each service at `address(service)` (`http://127.0.0.1:3005`,
/// or `localhost:3005` in the README), without the template's header comment.
/// `mail_view` is the mail catcher's view; `None` when mail goes to a real SMTP server
/// (the lines that read the catcher are left out).
pub fn render(address: impl Fn(Service) -> String, mail_view: Option<&str>) -> String {
    let body = TEMPLATE
        .lines()
        .skip_while(|line| line.starts_with('#'))
        .filter(|line| mail_view.is_some() || !line.contains("{mail_view}"));
    let mut out = String::new();
    for line in body {
        let mut line = line.replace("{mail_view}", mail_view.unwrap_or_default());
        for (placeholder, service) in PLACES {
            if line.contains(placeholder) {
                line = line.replace(placeholder, &address(service));
            }
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's addresses: each service on its local default port.
    fn local(service: Service) -> String {
        format!("localhost:{}", service.default_port())
    }
    const MAIL_VIEW: Option<&str> = Some("localhost:8025");

    #[test]
    fn the_readme_shows_the_walk_through_that_dev_prints() {
        let readme = include_str!("../../README.md");
        let shown = render(local, MAIL_VIEW);
        assert!(
            readme.contains(&format!("```sh\n{shown}```")),
            "README's walk-through differs from cli/src/walkthrough.sh rendered:\n{shown}"
        );
    }

    #[test]
    fn every_placeholder_is_filled_and_the_catcher_lines_go_without_a_catcher() {
        let shown = render(local, MAIL_VIEW);
        assert!(!shown.contains("{cart}") && !shown.contains("{email_push}"));
        assert!(shown.contains("localhost:8025/messages"));
        for (id, name, _) in &crate::seed::CUSTOMERS[..2] {
            assert!(
                shown.contains(&format!("={id}   # {name}")),
                "{name} as seeded"
            );
        }
        let without = render(local, None);
        assert!(!without.contains("8025") && !without.contains("{mail_view}"));
        assert!(without.contains("localhost:3005/cart/convert-to-order"));
    }
}
