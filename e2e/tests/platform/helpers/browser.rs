//! A real browser for the console's tests: headless Chromium driven over WebDriver
//! by `chromedriver` (Debian's `chromium` and `chromium-driver`; scripts/test.sh
//! installs them when missing), and the console itself, serving one test's platform.

use super::{TestApp, eventually_within, free_port};
use cartflow::console::{ConsoleSettings, Operators};
use cartflow::events::Databases;
use fantoccini::{Client, ClientBuilder, Locator};
use std::path::PathBuf;
use std::time::Duration;
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

/// How long a page may take to show what a test waits for.
pub const PAGE_DEADLINE: Duration = Duration::from_secs(30);

/// The console serving `app`, on a free loopback port; stops when dropped.
pub struct ConsoleUnderTest {
    pub url: String,
    stop: CancellationToken,
}

impl Drop for ConsoleUnderTest {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

pub async fn start_console(app: &TestApp) -> ConsoleUnderTest {
    start_console_with(app, |_| {}).await
}

/// The operator of the console [`start_console`] serves (a console of one's own).
pub const OPERATOR: &str = "Olga Operator";

/// [`start_console`] with its settings changed by `change` first.
pub async fn start_console_with(
    app: &TestApp,
    change: impl FnOnce(&mut ConsoleSettings),
) -> ConsoleUnderTest {
    let settings = &app.infra.settings;
    let mut console = ConsoleSettings {
        services: cartflow_platform::SERVICES
            .iter()
            .map(|&s| (s, app.url(s)))
            .collect(),
        mail_view: None,
        databases: Databases {
            server_url: settings.server_url.clone(),
            prefix: settings.database_prefix.clone(),
        },
        refresh: Duration::from_millis(500),
        public_url: None,
        operators: Operators::Local(OPERATOR.into()),
    };
    change(&mut console);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    tokio::spawn(cartflow::console::serve(listener, console, stop.clone()));
    ConsoleUnderTest { url, stop }
}

pub struct Browser {
    pub client: Client,
    // Declared after the client: the driver outlives the session it serves.
    driver: Child,
    shots: PathBuf,
}

/// A test that fails never reaches `close`: take the driver's whole process group
/// (chromedriver and the Chromium it started) down with it, or the browsers outlive
/// the test run.
impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(pid) = self.driver.id() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .status();
        }
    }
}

impl Browser {
    pub async fn start() -> Browser {
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .process_group(0)
            .spawn()
            .expect("chromedriver is not installed: scripts/test.sh installs Debian's chromium and chromium-driver");
        let webdriver = format!("http://127.0.0.1:{port}");
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1280,1400", "--no-first-run", "--disable-extensions"]
            }),
        );
        let client = eventually_within(PAGE_DEADLINE, "chromedriver to accept a session", || {
            let (webdriver, capabilities) = (webdriver.clone(), capabilities.clone());
            async move {
                ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                    .capabilities(capabilities)
                    .connect(&webdriver)
                    .await
                    .ok()
            }
        })
        .await;
        let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        Browser {
            client,
            driver,
            shots,
        }
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    /// Writes a screenshot of the page as `<name>.png` for a reviewer to look at.
    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        let path = self.shots.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        eprintln!("screenshot: {}", path.display());
    }

    /// The text of every element matching `css`.
    pub async fn texts(&self, css: &str) -> Vec<String> {
        let mut texts = Vec::new();
        for element in self
            .client
            .find_all(Locator::Css(css))
            .await
            .unwrap_or_default()
        {
            texts.push(element.text().await.unwrap_or_default());
        }
        texts
    }

    /// Waits until an element matching `css` has a text that `ok` accepts; returns
    /// that text.
    pub async fn wait_text(&self, css: &str, what: &str, ok: impl Fn(&str) -> bool) -> String {
        eventually_within(PAGE_DEADLINE, what, || async {
            self.texts(css).await.into_iter().find(|t| ok(t))
        })
        .await
    }

    /// Clicks the first element matching `css` once it is there (again if the page
    /// replaced it between finding and clicking).
    pub async fn click(&self, css: &str) {
        eventually_within(PAGE_DEADLINE, &format!("{css} to click"), || async {
            let element = self.client.find(Locator::Css(css)).await.ok()?;
            element.click().await.ok()
        })
        .await
    }

    /// Chooses `value` in the select `css`, once the option is there.
    pub async fn select(&self, css: &str, value: &str) {
        self.click(&format!("{css} option[value='{value}']")).await;
        let select = self.client.find(Locator::Css(css)).await.unwrap();
        select.select_by_value(value).await.unwrap();
    }

    /// Replaces the value of the input `css` with `text`.
    pub async fn fill(&self, css: &str, text: &str) {
        let input = self.client.find(Locator::Css(css)).await.unwrap();
        input.clear().await.unwrap();
        input.send_keys(text).await.unwrap();
    }

    pub async fn close(self) {
        self.client.clone().close().await.unwrap();
    }
}
