//! The walk-through that `cartflow dev` prints, rendered from its one source,
//! `walkthrough.sh`; the README shows the same file with the local default addresses
//! (a test below keeps the two equal).

const TEMPLATE: &str = include_str!("walkthrough.sh");

/// Where each part of the platform answers, as the walk-through's `curl` calls name
/// them (`http://127.0.0.1:3005`, or `localhost:3005` in the README).
pub struct Addresses<'a> {
    pub cart: &'a str,
    pub order: &'a str,
    pub inventory: &'a str,
    pub notification: &'a str,
    pub email_push: &'a str,
    pub payment: &'a str,
    /// The mail catcher's view; `None` when mail goes to a real SMTP server (the lines
    /// that read the catcher are left out).
    pub mail_view: Option<&'a str>,
}

/// The walk-through with real addresses, without the template's header comment.
pub fn render(at: &Addresses<'_>) -> String {
    let body = TEMPLATE
        .lines()
        .skip_while(|line| line.starts_with('#'))
        .filter(|line| at.mail_view.is_some() || !line.contains("{mail_view}"));
    let mut out = String::new();
    for line in body {
        let line = line
            .replace("{cart}", at.cart)
            .replace("{order}", at.order)
            .replace("{inventory}", at.inventory)
            .replace("{notification}", at.notification)
            .replace("{email_push}", at.email_push)
            .replace("{payment}", at.payment)
            .replace("{mail_view}", at.mail_view.unwrap_or_default());
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCAL: Addresses<'static> = Addresses {
        cart: "localhost:3005",
        order: "localhost:3000",
        inventory: "localhost:3002",
        notification: "localhost:3003",
        email_push: "localhost:3004",
        payment: "localhost:3007",
        mail_view: Some("localhost:8025"),
    };

    #[test]
    fn the_readme_shows_the_walk_through_that_dev_prints() {
        let readme = include_str!("../../README.md");
        let shown = render(&LOCAL);
        assert!(
            readme.contains(&format!("```sh\n{shown}```")),
            "README's walk-through differs from cli/src/walkthrough.sh rendered:\n{shown}"
        );
    }

    #[test]
    fn every_placeholder_is_filled_and_the_catcher_lines_go_without_a_catcher() {
        let shown = render(&LOCAL);
        assert!(!shown.contains("{cart}") && !shown.contains("{email_push}"));
        assert!(shown.contains("localhost:8025/messages"));
        for (id, name, _) in &crate::seed::CUSTOMERS[..2] {
            assert!(
                shown.contains(&format!("={id}   # {name}")),
                "{name} as seeded"
            );
        }
        let without = render(&Addresses {
            mail_view: None,
            ..LOCAL
        });
        assert!(!without.contains("8025") && !without.contains("{mail_view}"));
        assert!(without.contains("localhost:3005/cart/convert-to-order"));
    }
}
