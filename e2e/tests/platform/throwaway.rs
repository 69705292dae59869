//! A PostgreSQL cluster and a Pub/Sub emulator of a test's own, for the tests that
//! stop and restart them (scripts/infra.sh starts them with the same binaries and
//! settings as the shared ones). Both go away when dropped.

use crate::helpers::free_port;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

fn infra_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/infra.sh")
}

fn run(args: &[&str]) {
    let output = Command::new(infra_script())
        .args(args)
        .output()
        .expect("running scripts/infra.sh");
    assert!(
        output.status.success(),
        "scripts/infra.sh {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

pub struct OwnPostgres {
    dir: PathBuf,
    port: u16,
}

impl OwnPostgres {
    pub fn start() -> OwnPostgres {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("cartflow-pg-{port}-{}", std::process::id()));
        let pg = OwnPostgres { dir, port };
        pg.up();
        pg
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}", self.port)
    }

    /// Starts the (stopped) server again, on the same port with the same data.
    pub fn up(&self) {
        run(&[
            "postgres-start",
            self.dir.to_str().unwrap(),
            &self.port.to_string(),
        ]);
    }

    /// Stops the server: open transactions roll back, connections drop.
    pub fn down(&self) {
        run(&["postgres-stop", self.dir.to_str().unwrap()]);
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        self.down();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub struct OwnEmulator {
    host: String,
    process: Option<std::process::Child>,
}

impl OwnEmulator {
    pub fn start() -> OwnEmulator {
        let mut emulator = OwnEmulator {
            host: format!("127.0.0.1:{}", free_port()),
            process: None,
        };
        emulator.up();
        emulator
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    fn answers(&self) -> bool {
        use std::io::{Read, Write};
        let Ok(mut stream) = std::net::TcpStream::connect(&self.host) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let request = format!(
            "GET / HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.host
        );
        if stream.write_all(request.as_bytes()).is_err() {
            return false;
        }
        // Read until the answer's body shows up (the server may keep the line open).
        let mut answer = Vec::new();
        let mut buffer = [0u8; 512];
        while let Ok(n @ 1..) = stream.read(&mut buffer) {
            answer.extend_from_slice(&buffer[..n]);
            if String::from_utf8_lossy(&answer).contains("\r\n\r\nOk") {
                return true;
            }
        }
        false
    }

    /// Starts an empty emulator on the same address (an emulator keeps nothing) and
    /// waits until it answers.
    pub fn up(&mut self) {
        use std::os::unix::process::CommandExt;
        let child = Command::new(infra_script())
            .args(["emulator", &self.host])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            // A group of its own, so that killing it kills the JVM too.
            .process_group(0)
            .spawn()
            .expect("starting an emulator");
        self.process = Some(child);
        let deadline = Instant::now() + Duration::from_secs(120);
        while !self.answers() {
            assert!(
                Instant::now() < deadline,
                "the emulator on {} did not start",
                self.host
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Kills the emulator with SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.process.take() {
            let group = format!("-{}", child.id());
            let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnEmulator {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The platform on an emulator of the test's own (to kill and restart), with the shared
/// PostgreSQL server and `settings` for every service.
pub async fn app_on_own_emulator(
    settings: &[(&str, &str)],
) -> (OwnEmulator, crate::helpers::TestApp) {
    let emulator = tokio::task::spawn_blocking(OwnEmulator::start)
        .await
        .unwrap();
    let server = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| cartflow_kit::config::DEFAULT_DATABASE_URL.into());
    let infra = crate::helpers::TestInfra::on(server, emulator.host().to_string()).await;
    let app = crate::helpers::spawn_app_on(infra, settings).await;
    (emulator, app)
}
