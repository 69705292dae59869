//! CPU time and peak memory of the stack's processes, read from /proc (Linux).
//!
//! The stack is found by command line: `cartflow serve <service>` or
//! `<service>-service` for services, `cartflow dev` (all services in one process), the
//! emulator's java process, and the PostgreSQL server that serves `DATABASE_URL`
//! (its postmaster, found as the parent of our own backend, and all its children).
//! `cartflow stack`'s own process is the group `stand-ins`: it runs what the cloud
//! provides in production (the mail catcher, the payment sandbox and, with
//! `--push-concurrency`, the pusher), so it is reported apart from the platform.

use serde::Serialize;
use std::collections::BTreeMap;
use std::fs;

/// Linux reports CPU times in clock ticks of 1/100 s on every mainstream platform.
const TICKS_PER_SECOND: f64 = 100.0;

#[derive(Debug, Clone, Serialize)]
pub struct ProcessUse {
    /// CPU seconds used during the measured window, and that as cores (1.0 = one core).
    pub cpu_seconds: f64,
    pub cpu_cores: f64,
    /// Peak resident memory (VmHWM; for PostgreSQL the sum over its processes).
    pub peak_rss_mib: f64,
    pub processes: usize,
}

/// CPU ticks and peak RSS per group of processes, at one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    groups: BTreeMap<String, (u64, u64, usize)>,
}

/// The group of `cartflow stack`'s own process: stand-ins for the cloud's parts, not
/// the platform's cost.
pub const STAND_INS: &str = "stand-ins";

/// Which group a process belongs to, if any.
fn group_of(pid: u32, cmdline: &str, postgres: &[u32]) -> Option<String> {
    let args: Vec<&str> = cmdline.split('\0').filter(|a| !a.is_empty()).collect();
    let program = args.first().map(|a| a.rsplit('/').next().unwrap_or(a))?;
    if postgres.contains(&pid) {
        return Some("postgresql".into());
    }
    if program == "cartflow" {
        return match args.get(1..3) {
            Some(["serve", service]) => Some(service.to_string()),
            _ if args.get(1) == Some(&"dev") => Some("cartflow-dev".into()),
            _ if args.get(1) == Some(&"stack") => Some(STAND_INS.into()),
            _ => None,
        };
    }
    if let Some(service) = program.strip_suffix("-service") {
        return Some(service.to_string());
    }
    if program == "java" && cmdline.contains("pubsub-emulator") {
        return Some("pubsub-emulator".into());
    }
    None
}

fn read_stat(pid: u32) -> Option<(u64, u32)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command (which may contain spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let ppid = fields.get(1)?.parse().ok()?;
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime, ppid))
}

fn peak_rss_kib(pid: u32) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn pids() -> Vec<u32> {
    fs::read_dir("/proc")
        .map(|dir| {
            dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

impl Snapshot {
    /// Reads every process of the stack. `postmaster` is the PostgreSQL server's pid.
    pub fn take(postmaster: Option<u32>) -> Snapshot {
        let all = pids();
        let postgres: Vec<u32> = match postmaster {
            Some(root) => all
                .iter()
                .copied()
                .filter(|&p| p == root || read_stat(p).is_some_and(|(_, ppid)| ppid == root))
                .collect(),
            None => Vec::new(),
        };
        let mut snapshot = Snapshot::default();
        for pid in all {
            let Ok(cmdline) = fs::read_to_string(format!("/proc/{pid}/cmdline")) else {
                continue;
            };
            let Some(group) = group_of(pid, &cmdline, &postgres) else {
                continue;
            };
            let Some((ticks, _)) = read_stat(pid) else {
                continue;
            };
            let entry = snapshot.groups.entry(group).or_default();
            entry.0 += ticks;
            entry.1 += peak_rss_kib(pid);
            entry.2 += 1;
        }
        snapshot
    }

    /// Use between `self` (start) and `end`, over `seconds` of wall time.
    pub fn usage(&self, end: &Snapshot, seconds: f64) -> BTreeMap<String, ProcessUse> {
        end.groups
            .iter()
            .map(|(name, &(ticks, rss_kib, processes))| {
                let before = self.groups.get(name).map_or(0, |g| g.0);
                let cpu_seconds = ticks.saturating_sub(before) as f64 / TICKS_PER_SECOND;
                let use_ = ProcessUse {
                    cpu_seconds,
                    cpu_cores: (cpu_seconds / seconds.max(1e-9) * 100.0).round() / 100.0,
                    peak_rss_mib: (rss_kib as f64 / 1024.0 * 10.0).round() / 10.0,
                    processes,
                };
                (name.clone(), use_)
            })
            .collect()
    }
}

/// The postmaster of the server `pool` talks to: the parent of our own backend.
pub async fn postmaster_of(pool: &sqlx::PgPool) -> Option<u32> {
    let backend: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(pool)
        .await
        .ok()?;
    read_stat(backend as u32).map(|(_, ppid)| ppid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn processes_are_grouped_by_command_line() {
        let group = |cmd: &str| group_of(7, cmd, &[42]);
        assert_eq!(
            group("/x/target/release/cartflow\0serve\0inventory\0").as_deref(),
            Some("inventory")
        );
        assert_eq!(group("cartflow\0dev\0").as_deref(), Some("cartflow-dev"));
        assert_eq!(group("/usr/bin/cart-service\0").as_deref(), Some("cart"));
        assert_eq!(
            group("java\0-cp\0/x/cloud-pubsub-emulator-0.8.20.jar\0").as_deref(),
            Some("pubsub-emulator")
        );
        assert_eq!(
            group("cartflow\0stack\0--push-concurrency=16\0").as_deref(),
            Some(STAND_INS)
        );
        assert_eq!(group("cartflow\0load\0"), None);
        assert_eq!(group("bash\0"), None);
        assert_eq!(
            group_of(42, "postgres: writer", &[42]).as_deref(),
            Some("postgresql")
        );
    }

    #[test]
    fn this_process_can_be_read() {
        let (_, ppid) = read_stat(std::process::id()).expect("own /proc/<pid>/stat");
        assert!(ppid > 0);
        assert!(peak_rss_kib(std::process::id()) > 0);
    }
}
