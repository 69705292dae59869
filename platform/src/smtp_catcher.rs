//! A small SMTP server that accepts every message and keeps it in memory: the local
//! stack's mail catcher and the tests' mailbox. It speaks real SMTP over TCP (EHLO,
//! MAIL, RCPT, DATA, RSET, NOOP, QUIT), so the email-push service is exercised exactly
//! as against a real server. `router()` serves what it caught as JSON.

use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Serialize)]
pub struct CaughtMail {
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
    /// The message body (after the headers), with SMTP dot-stuffing undone.
    pub body: String,
    pub received_at: chrono::DateTime<chrono::Utc>,
}

/// The newest mails caught, oldest first, at most `limit` of them: a long-running
/// stack must not grow with every email it ever saw (Mailpit keeps a limit too).
#[derive(Debug)]
struct Held {
    mails: VecDeque<CaughtMail>,
    limit: usize,
}

type Mailbox = Arc<Mutex<Held>>;

/// Mails a catcher keeps unless told otherwise (`MAIL_CATCHER_MAX_MESSAGES`).
pub const DEFAULT_MAX_MESSAGES: usize = 5000;

fn mailbox(limit: usize) -> Mailbox {
    Arc::new(Mutex::new(Held {
        mails: VecDeque::new(),
        limit: limit.max(1),
    }))
}

pub struct SmtpCatcher {
    addr: SocketAddr,
    mailbox: Mailbox,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl SmtpCatcher {
    /// Listens on `addr` (port 0 picks one).
    pub async fn start(addr: SocketAddr) -> std::io::Result<SmtpCatcher> {
        Self::start_with(addr, mailbox(DEFAULT_MAX_MESSAGES)).await
    }

    async fn start_with(addr: SocketAddr, mailbox: Mailbox) -> std::io::Result<SmtpCatcher> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let stop = CancellationToken::new();
        let task = tokio::spawn(serve(listener, mailbox.clone(), stop.clone()));
        Ok(SmtpCatcher {
            addr,
            mailbox,
            stop,
            task,
        })
    }

    /// The local stacks' mail server: unless `env` names one in `SMTP_HOST`, starts a
    /// catcher on 127.0.0.1:1025 and points `SMTP_HOST`/`SMTP_PORT` at it.
    pub async fn unless_configured(
        env: &mut cartflow_kit::Env,
    ) -> anyhow::Result<Option<SmtpCatcher>> {
        if env.get("SMTP_HOST").is_some() {
            return Ok(None);
        }
        let limit = match env.get("MAIL_CATCHER_MAX_MESSAGES") {
            None => DEFAULT_MAX_MESSAGES,
            Some(raw) => raw.trim().parse().ok().filter(|&n| n > 0).ok_or_else(|| {
                anyhow::anyhow!("MAIL_CATCHER_MAX_MESSAGES='{raw}': expected a whole number ≥ 1")
            })?,
        };
        let catcher = SmtpCatcher::start_with(([127, 0, 0, 1], 1025).into(), mailbox(limit))
            .await
            .map_err(|e| anyhow::anyhow!("starting the SMTP catcher on 127.0.0.1:1025: {e}"))?;
        tracing::info!(
            keeps = limit,
            "mail catcher on 127.0.0.1:1025 keeps the newest {limit} messages (MAIL_CATCHER_MAX_MESSAGES)"
        );
        env.set("SMTP_HOST", "127.0.0.1").set("SMTP_PORT", "1025");
        Ok(Some(catcher))
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn mails(&self) -> Vec<CaughtMail> {
        let held = self.mailbox.lock().expect("mailbox poisoned");
        held.mails.iter().cloned().collect()
    }

    /// Stops listening and drops every open connection: the server is down.
    pub async fn stop(self) -> Restartable {
        self.stop.cancel();
        let _ = self.task.await;
        Restartable {
            addr: self.addr,
            mailbox: self.mailbox,
        }
    }

    /// JSON view of the mailbox: `GET /messages`.
    pub fn router(&self) -> Router {
        let mailbox = self.mailbox.clone();
        Router::new().route(
            "/messages",
            get(move || {
                let mailbox = mailbox.clone();
                async move {
                    let held = mailbox.lock().expect("mailbox poisoned");
                    let newest_first: Vec<CaughtMail> = held.mails.iter().rev().cloned().collect();
                    Json(newest_first)
                }
            }),
        )
    }
}

/// A stopped catcher that can come back on the same address with the same mailbox.
pub struct Restartable {
    addr: SocketAddr,
    mailbox: Mailbox,
}

impl Restartable {
    pub async fn start(self) -> std::io::Result<SmtpCatcher> {
        SmtpCatcher::start_with(self.addr, self.mailbox).await
    }
}

async fn serve(listener: TcpListener, mailbox: Mailbox, stop: CancellationToken) {
    let mut sessions = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let mailbox = mailbox.clone();
                    sessions.spawn(async move {
                        if let Err(err) = session(stream, mailbox).await {
                            tracing::debug!(error = %err, "SMTP session ended with an error");
                        }
                    });
                }
                Err(err) => tracing::warn!(error = %err, "SMTP accept failed"),
            },
        }
    }
    sessions.abort_all();
}

/// One SMTP conversation (RFC 5321, the subset clients need to send mail).
async fn session(stream: TcpStream, mailbox: Mailbox) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write
        .write_all(b"220 cartflow-catcher ESMTP ready\r\n")
        .await?;
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end();
        let verb = command
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-cartflow-catcher\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n",
            "HELO" => b"250 cartflow-catcher\r\n",
            "MAIL" => {
                from = address(command);
                to.clear();
                b"250 OK\r\n"
            }
            "RCPT" => {
                to.push(address(command));
                b"250 OK\r\n"
            }
            "DATA" => {
                write
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let data = read_data(&mut lines).await?;
                let (subject, body) = split_message(&data);
                let mail = CaughtMail {
                    from: from.clone(),
                    to: std::mem::take(&mut to),
                    subject,
                    body,
                    received_at: chrono::Utc::now(),
                };
                let mut held = mailbox.lock().expect("mailbox poisoned");
                if held.mails.len() == held.limit {
                    held.mails.pop_front();
                }
                held.mails.push_back(mail);
                b"250 OK queued\r\n"
            }
            "RSET" => {
                from.clear();
                to.clear();
                b"250 OK\r\n"
            }
            "NOOP" => b"250 OK\r\n",
            "QUIT" => {
                write.write_all(b"221 Bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 Command not implemented\r\n",
        };
        write.write_all(reply).await?;
    }
}

/// `MAIL FROM:<a@b> BODY=8BITMIME` → `a@b`.
fn address(command: &str) -> String {
    let start = command.find('<').map(|i| i + 1).unwrap_or(0);
    let end = command[start..]
        .find('>')
        .map(|i| start + i)
        .unwrap_or(command.len());
    command[start..end].to_string()
}

async fn read_data<R: tokio::io::AsyncBufRead + Unpin>(lines: &mut R) -> std::io::Result<String> {
    let mut data = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 || line.trim_end_matches(['\r', '\n']) == "." {
            return Ok(data);
        }
        let unstuffed = line.strip_prefix('.').unwrap_or(&line);
        data.push_str(&unstuffed.replace("\r\n", "\n"));
    }
}

/// The Subject header and the body of a plain-text message. Lettre encodes plain ASCII
/// bodies as 7bit and others as quoted-printable; both are decoded here.
fn split_message(data: &str) -> (String, String) {
    let (headers, body) = data.split_once("\n\n").unwrap_or((data, ""));
    let subject = headers
        .lines()
        .find_map(|h| h.strip_prefix("Subject: "))
        .unwrap_or_default()
        .to_string();
    let quoted_printable = headers
        .to_ascii_lowercase()
        .contains("content-transfer-encoding: quoted-printable");
    let body = if quoted_printable {
        decode_quoted_printable(body)
    } else {
        body.to_string()
    };
    (subject, body)
}

fn decode_quoted_printable(text: &str) -> String {
    let mut bytes = Vec::with_capacity(text.len());
    let raw = text.replace("=\n", "");
    let mut chars = raw.as_bytes().iter().copied().peekable();
    while let Some(b) = chars.next() {
        if b == b'=' {
            let hex: Vec<u8> = chars.by_ref().take(2).collect();
            match std::str::from_utf8(&hex)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                Some(v) => bytes.push(v),
                None => bytes.extend_from_slice(&hex),
            }
        } else {
            bytes.push(b);
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_subjects_are_read() {
        assert_eq!(address("MAIL FROM:<shop@x.io> BODY=8BITMIME"), "shop@x.io");
        assert_eq!(address("RCPT TO:<ann@y.io>"), "ann@y.io");
        let (subject, body) = split_message("From: a\nSubject: Hi there\n\nLine one\n");
        assert_eq!(
            (subject.as_str(), body.as_str()),
            ("Hi there", "Line one\n")
        );
    }

    /// Speaks SMTP to the catcher over real TCP, one message per subject.
    async fn send_mails(addr: SocketAddr, subjects: &[&str]) {
        let stream = TcpStream::connect(addr).await.unwrap();
        let (read, mut write) = stream.into_split();
        let mut replies = BufReader::new(read);
        let mut reply = String::new();
        let mut expect = async |code: &str, replies: &mut BufReader<_>| loop {
            reply.clear();
            replies.read_line(&mut reply).await.unwrap();
            assert!(reply.starts_with(code), "expected {code}, got {reply}");
            if reply.as_bytes().get(3) == Some(&b' ') {
                break;
            }
        };
        expect("220", &mut replies).await;
        write.write_all(b"EHLO test\r\n").await.unwrap();
        expect("250", &mut replies).await;
        for subject in subjects {
            write.write_all(b"MAIL FROM:<shop@x.io>\r\n").await.unwrap();
            expect("250", &mut replies).await;
            write.write_all(b"RCPT TO:<ann@y.io>\r\n").await.unwrap();
            expect("250", &mut replies).await;
            write.write_all(b"DATA\r\n").await.unwrap();
            expect("354", &mut replies).await;
            let data = format!("Subject: {subject}\r\n\r\nhello\r\n.\r\n");
            write.write_all(data.as_bytes()).await.unwrap();
            expect("250", &mut replies).await;
        }
        write.write_all(b"QUIT\r\n").await.unwrap();
    }

    #[tokio::test]
    async fn the_catcher_keeps_only_the_newest_messages() {
        let catcher = SmtpCatcher::start_with(([127, 0, 0, 1], 0).into(), mailbox(2))
            .await
            .unwrap();
        send_mails(catcher.addr(), &["one", "two", "three"]).await;
        let subjects: Vec<String> = catcher.mails().into_iter().map(|m| m.subject).collect();
        assert_eq!(subjects, ["two", "three"]);
        catcher.stop().await;
    }

    #[test]
    fn quoted_printable_bodies_are_decoded() {
        let data = "Subject: s\nContent-Transfer-Encoding: quoted-printable\n\nCaf=C3=A9 =3D soft=\nbreak\n";
        assert_eq!(split_message(data).1, "Café = softbreak\n");
    }
}
