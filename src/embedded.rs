//! A private PostgreSQL run from the system's binaries: the server's embedded default when
//! `DATABASE_URL` is unset, and the test suite's throwaway server.
//!
//! The server listens on a Unix socket inside the data directory only (no TCP), so nothing
//! else on the machine can reach it. As root it runs as the `postgres` user (initdb refuses
//! root). The postmaster is a direct child with a parent-death signal, so it never outlives
//! the process that started it, even after a crash.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error("no PostgreSQL server binaries found (tried `pg_config --bindir` and /usr/lib/postgresql/*/bin); install PostgreSQL or set DATABASE_URL")]
    NoBinaries,
    #[error("running as root but there is no `postgres` user to run PostgreSQL as")]
    NoPostgresUser,
    #[error("{what} failed: {detail}")]
    Command { what: String, detail: String },
    #[error("I/O error on {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("PostgreSQL did not become ready within {0:?}; see {1}")]
    NotReady(Duration, PathBuf),
}

/// A running private PostgreSQL server.
pub struct EmbeddedPostgres {
    child: Option<Child>,
    socket_dir: PathBuf,
    data_dir: PathBuf,
    port: u16,
}

const PORT: u16 = 5432;

impl EmbeddedPostgres {
    /// Starts (initialising on first use) a server whose files live under `root`.
    pub fn start(root: &Path) -> Result<Self, EmbeddedError> {
        let bindir = find_bindir().ok_or(EmbeddedError::NoBinaries)?;
        let owner = if is_root() { Some(postgres_ids().ok_or(EmbeddedError::NoPostgresUser)?) } else { None };
        let root = absolute(root)?;
        let data_dir = root.join("pg");
        let socket_dir = root.join("run");
        for dir in [&root, &socket_dir] {
            std::fs::create_dir_all(dir).map_err(|source| EmbeddedError::Io { path: dir.clone(), source })?;
        }
        if let Some((uid, gid)) = owner {
            for dir in [&root, &socket_dir] {
                std::os::unix::fs::chown(dir, Some(uid), Some(gid))
                    .map_err(|source| EmbeddedError::Io { path: dir.clone(), source })?;
            }
        }
        if !data_dir.join("PG_VERSION").exists() {
            let mut initdb = Command::new(bindir.join("initdb"));
            initdb.arg("-D").arg(&data_dir).args([
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ]);
            run(owner, initdb, "initdb")?;
        }
        // Another Rapport process (a running `serve`, say) already runs this server: share it.
        let shared =
            EmbeddedPostgres { child: None, socket_dir: socket_dir.clone(), data_dir: data_dir.clone(), port: PORT };
        if shared.is_ready(&bindir) {
            return Ok(shared);
        }
        let log_path = root.join("postgres.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|source| EmbeddedError::Io { path: log_path.clone(), source })?;
        if let Some((uid, gid)) = owner {
            let _ = std::os::unix::fs::chown(&log_path, Some(uid), Some(gid));
        }
        // A postmaster left by a process that was killed before it could stop it dies with
        // its parent; a stale lock file is removed by PostgreSQL itself.
        let mut cmd = Command::new(bindir.join("postgres"));
        cmd.arg("-D")
            .arg(&data_dir)
            .arg("-k")
            .arg(&socket_dir)
            .args(["-c", "listen_addresses=", "-p", &PORT.to_string()])
            .args(["-c", "max_connections=200", "-c", "shared_buffers=256MB", "-c", "fsync=on"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|source| EmbeddedError::Io { path: log_path.clone(), source })?)
            .stderr(log);
        let child = spawn_supervised(owner, cmd)?;
        let pg = EmbeddedPostgres { child: Some(child), socket_dir, data_dir, port: PORT };
        pg.wait_ready(&bindir, Duration::from_secs(60), &log_path)?;
        Ok(pg)
    }

    fn is_ready(&self, bindir: &Path) -> bool {
        Command::new(bindir.join("pg_isready"))
            .arg("-h")
            .arg(&self.socket_dir)
            .args(["-p", &self.port.to_string(), "-U", "postgres", "-d", "postgres", "-q"])
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }

    fn wait_ready(&self, bindir: &Path, timeout: Duration, log: &Path) -> Result<(), EmbeddedError> {
        let started = Instant::now();
        while started.elapsed() < timeout {
            if self.is_ready(bindir) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(EmbeddedError::NotReady(timeout, log.to_owned()))
    }

    /// A connection URL for `database` on this server (over its Unix socket).
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@localhost:{}/{}?host={}", self.port, database, self.socket_dir.display())
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Fast shutdown: open transactions roll back, committed data is on disk.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGINT is PostgreSQL's "fast" shutdown.
            // SAFETY: kill(2) on our own child's pid has no memory-safety preconditions.
            unsafe {
                libc::kill(child.id() as libc::pid_t, libc::SIGINT);
            }
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                match child.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() > deadline => {
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        }
    }
}

impl Drop for EmbeddedPostgres {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Spawns `cmd` from a thread that lives as long as the process, with a parent-death signal,
/// so the child is told to stop (fast shutdown) when this process exits for any reason.
fn spawn_supervised(owner: Option<(u32, u32)>, mut cmd: Command) -> Result<Child, EmbeddedError> {
    if let Some((uid, gid)) = owner {
        cmd.uid(uid).gid(gid);
    }
    // Its own process group: a Ctrl-C at the terminal reaches Rapport, which then stops
    // PostgreSQL after the in-flight requests are done.
    cmd.process_group(0);
    // SAFETY: prctl is async-signal-safe; the closure allocates nothing.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGINT as libc::c_ulong) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("embedded-postgres".into())
        .spawn(move || {
            let _ = tx.send(cmd.spawn());
            // The parent-death signal fires when the spawning thread ends: keep it alive.
            loop {
                std::thread::park();
            }
        })
        .map_err(|e| EmbeddedError::Command { what: "spawning the supervisor thread".into(), detail: e.to_string() })?;
    rx.recv()
        .map_err(|e| EmbeddedError::Command { what: "starting postgres".into(), detail: e.to_string() })?
        .map_err(|e| EmbeddedError::Command { what: "starting postgres".into(), detail: e.to_string() })
}

fn run(owner: Option<(u32, u32)>, mut cmd: Command, what: &str) -> Result<(), EmbeddedError> {
    if let Some((uid, gid)) = owner {
        cmd.uid(uid).gid(gid);
    }
    let out = cmd.output().map_err(|e| EmbeddedError::Command { what: what.into(), detail: e.to_string() })?;
    if !out.status.success() {
        return Err(EmbeddedError::Command {
            what: what.into(),
            detail: format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
        });
    }
    Ok(())
}

fn absolute(path: &Path) -> Result<PathBuf, EmbeddedError> {
    std::path::absolute(path).map_err(|source| EmbeddedError::Io { path: path.to_owned(), source })
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// The uid and gid of the `postgres` user, read from /etc/passwd.
fn postgres_ids() -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut f = line.split(':');
        if f.next()? != "postgres" {
            return None;
        }
        let _password = f.next()?;
        Some((f.next()?.parse().ok()?, f.next()?.parse().ok()?))
    })
}

/// The directory holding `initdb` and `postgres`.
pub fn find_bindir() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("RAPPORT_PG_BINDIR") {
        return Some(PathBuf::from(dir));
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && dir.join("initdb").exists() {
            return Some(dir);
        }
    }
    let mut candidates: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    candidates.sort();
    candidates.pop().map(|(_, bin)| bin)
}
