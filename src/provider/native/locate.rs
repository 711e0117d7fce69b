//! Finding a server's binaries: the configured `bin_dir`, else `PATH`, else the folders where
//! distributions and package managers put them.

use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use tracing::{debug, info};

use crate::config::EngineKind;
use crate::error::Error;

/// Which server software a set of binaries is (engine `mysql` may run on MariaDB's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Postgres,
    Mariadb,
    Mysql,
}

impl fmt::Display for Flavor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Flavor::Postgres => "PostgreSQL",
            Flavor::Mariadb => "MariaDB",
            Flavor::Mysql => "MySQL",
        })
    }
}

/// The binaries that run one engine's server, as [`locate`] found them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binaries {
    pub flavor: Flavor,
    /// The server: `postgres`, `mariadbd` or `mysqld`.
    pub server: PathBuf,
    /// What creates a data folder: `initdb`, `mariadb-install-db`, or `mysqld` itself
    /// (`--initialize-insecure`).
    pub init: PathBuf,
    /// `pg_ctl` for PostgreSQL; MariaDB and MySQL are started and stopped directly.
    pub ctl: Option<PathBuf>,
    /// The server's version as it reports it, e.g. `15.18` or `10.11.19`.
    pub version: String,
}

impl Binaries {
    /// The folder holding the server binary (what `NativeServer::bin_dir` records).
    pub fn bin_dir(&self) -> &Path {
        self.server.parent().unwrap_or(Path::new("/"))
    }

    /// The major version (`15` of `15.18`, `10.11` of `10.11.19`).
    pub fn major(&self) -> &str {
        let mut parts = self.version.splitn(3, '.');
        let first = parts.next().unwrap_or("");
        match (self.flavor, parts.next()) {
            (Flavor::Postgres, _) | (_, None) => first,
            (_, Some(second)) => &self.version[..first.len() + 1 + second.len()],
        }
    }
}

const PG_TOOLS: [&str; 3] = ["pg_ctl", "initdb", "postgres"];
const MARIADB_INIT: [&str; 2] = ["mariadb-install-db", "mysql_install_db"];
const MYSQL_DIRS: [&str; 9] = [
    "/usr/sbin",
    "/usr/local/mysql/bin",
    "/usr/local/sbin",
    "/opt/homebrew/opt/mariadb/bin",
    "/opt/homebrew/opt/mysql/bin",
    "/usr/local/opt/mariadb/bin",
    "/usr/local/opt/mysql/bin",
    "/usr/bin",
    "/usr/local/bin",
];

/// Find the binaries for `engine`: in `bin_dir` only when it is configured, else on `PATH`,
/// else in the usual distribution folders (the newest PostgreSQL first).
///
/// ```no_run
/// use dbenv::config::EngineKind;
/// let bins = dbenv::provider::native::locate(EngineKind::Postgres, None)?;
/// println!("PostgreSQL {} in {}", bins.version, bins.bin_dir().display());
/// # Ok::<(), dbenv::Error>(())
/// ```
pub fn locate(engine: EngineKind, bin_dir: Option<&Path>) -> Result<Binaries, Error> {
    match engine {
        EngineKind::Postgres => locate_postgres(bin_dir),
        EngineKind::Mysql | EngineKind::Mariadb => locate_mysql_family(engine, bin_dir),
        EngineKind::Sqlite => Err(Error::Unsupported(
            "SQLite has no server to run: use provider \"file\"".into(),
        )),
    }
}

fn locate_postgres(bin_dir: Option<&Path>) -> Result<Binaries, Error> {
    if let Some(dir) = bin_dir {
        let missing: Vec<&str> = PG_TOOLS
            .into_iter()
            .filter(|t| !is_executable(&dir.join(t)))
            .collect();
        if !missing.is_empty() {
            return Err(Error::Server(format!(
                "PostgreSQL binaries not found in bin_dir {}: missing {}; point `bin_dir` in \
                 dbenv.toml at the folder holding pg_ctl, initdb and postgres (e.g. \
                 /usr/lib/postgresql/16/bin), or remove it to search PATH and the usual folders",
                dir.display(),
                missing.join(", ")
            )));
        }
        return postgres_in(dir);
    }
    let mut looked = vec!["PATH".to_string()];
    let mut candidates: Vec<PathBuf> = path_dirs();
    for (parent, prefix, suffix) in [
        ("/usr/lib/postgresql", "", "bin"),
        ("/usr/local/pgsql", "", "bin"),
        ("/opt/homebrew/opt", "postgresql@", "bin"),
        ("/usr/local/opt", "postgresql@", "bin"),
        ("/usr", "pgsql-", "bin"),
    ] {
        looked.push(match (parent, prefix) {
            ("/usr/local/pgsql", _) => "/usr/local/pgsql/bin".to_string(),
            _ => format!("{parent}/{prefix}*/{suffix}"),
        });
        if parent == "/usr/local/pgsql" {
            candidates.push(PathBuf::from("/usr/local/pgsql/bin"));
        } else {
            candidates.extend(versioned_dirs(Path::new(parent), prefix, suffix));
        }
    }
    match candidates
        .iter()
        .find(|d| PG_TOOLS.iter().all(|t| is_executable(&d.join(t))))
    {
        Some(dir) => postgres_in(dir),
        None => Err(Error::Server(format!(
            "no PostgreSQL server binaries found (looked for pg_ctl, initdb and postgres in {}): \
             install them (Debian/Ubuntu: `apt-get install postgresql`, Fedora: `dnf install \
             postgresql-server`, macOS: `brew install postgresql@16`), or set `bin_dir` for the \
             env in dbenv.toml",
            looked.join(", ")
        ))),
    }
}

fn postgres_in(dir: &Path) -> Result<Binaries, Error> {
    // Symlinks on PATH (`/usr/local/bin/pg_ctl -> /usr/lib/postgresql/15/bin/pg_ctl`): record
    // the versioned folder they point into, which stays right when another version arrives.
    let real = dir
        .join("postgres")
        .canonicalize()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .filter(|real| PG_TOOLS.iter().all(|t| is_executable(&real.join(t))));
    let dir = real.as_deref().unwrap_or(dir);
    let server = dir.join("postgres");
    let version = version_of(&server)?;
    debug!("found `{version}` in {}", dir.display());
    Ok(Binaries {
        flavor: Flavor::Postgres,
        init: dir.join("initdb"),
        ctl: Some(dir.join("pg_ctl")),
        server,
        version: parse_version(&version).unwrap_or(version),
    })
}

fn locate_mysql_family(engine: EngineKind, bin_dir: Option<&Path>) -> Result<Binaries, Error> {
    let dirs: Vec<PathBuf> = match bin_dir {
        Some(d) => vec![d.to_path_buf()],
        None => path_dirs()
            .into_iter()
            .chain(MYSQL_DIRS.iter().map(PathBuf::from))
            .collect(),
    };
    let mut mariadb = None;
    // Engine mysql: a real MySQL first; `mysqld` is often MariaDB under another name.
    if engine == EngineKind::Mysql
        && let Some(mysqld) = find_in(&dirs, "mysqld")
    {
        let text = version_of(&mysqld)?;
        if !text.contains("MariaDB") {
            return mysql_binaries(mysqld, &text);
        }
        mariadb = Some((mysqld, text));
    }
    if let Some(server) = find_in(&dirs, "mariadbd") {
        let text = version_of(&server)?;
        mariadb = Some((server, text));
    } else if mariadb.is_none()
        && let Some(mysqld) = find_in(&dirs, "mysqld")
    {
        // MariaDB before 10.5 only ships `mysqld`.
        let text = version_of(&mysqld)?;
        if text.contains("MariaDB") {
            mariadb = Some((mysqld, text));
        }
    }
    let Some((server, text)) = mariadb else {
        return Err(missing_mysql(engine, bin_dir));
    };
    let init = mariadb_init_tool(&server, bin_dir.is_none()).ok_or_else(|| {
        Error::Server(format!(
            "found the MariaDB server {} but not mariadb-install-db (looked beside it, in \
             ../bin and ../scripts{}): install the complete server package (`apt-get install \
             mariadb-server`), or point `bin_dir` at a full MariaDB installation",
            server.display(),
            if bin_dir.is_none() {
                " and on PATH"
            } else {
                ""
            }
        ))
    })?;
    let version = parse_version(&text).unwrap_or(text);
    if engine == EngineKind::Mysql {
        info!(
            "engine mysql: no MySQL server found, using MariaDB {version} ({})",
            server.display()
        );
    }
    Ok(Binaries {
        flavor: Flavor::Mariadb,
        server,
        init,
        ctl: None,
        version,
    })
}

fn mysql_binaries(mysqld: PathBuf, text: &str) -> Result<Binaries, Error> {
    Ok(Binaries {
        flavor: Flavor::Mysql,
        init: mysqld.clone(),
        server: mysqld,
        ctl: None,
        version: parse_version(text).unwrap_or_else(|| text.to_string()),
    })
}

fn missing_mysql(engine: EngineKind, bin_dir: Option<&Path>) -> Error {
    let names = match engine {
        EngineKind::Mysql => "mysqld or mariadbd",
        _ => "mariadbd (or MariaDB's mysqld)",
    };
    let install = match engine {
        EngineKind::Mysql => {
            "Debian/Ubuntu: `apt-get install mariadb-server` (or MySQL's own packages), \
             macOS: `brew install mysql`"
        }
        _ => "Debian/Ubuntu: `apt-get install mariadb-server`, macOS: `brew install mariadb`",
    };
    match bin_dir {
        Some(dir) => Error::Server(format!(
            "{} server binary not found in bin_dir {}: expected {names} there; point `bin_dir` \
             in dbenv.toml at the folder holding it, or remove it to search PATH and the usual \
             folders",
            engine_title(engine),
            dir.display()
        )),
        None => Error::Server(format!(
            "no {} server found (looked for {names} in PATH, {}): install it ({install}), \
                 or set `bin_dir` for the env in dbenv.toml",
            engine_title(engine),
            MYSQL_DIRS.join(", ")
        )),
    }
}

fn engine_title(engine: EngineKind) -> &'static str {
    match engine {
        EngineKind::Mysql => "MySQL",
        _ => "MariaDB",
    }
}

/// `mariadb-install-db` beside the server, in `../bin` or `../scripts` (tarball layout), then
/// on PATH and in the usual folders when `search` allows.
fn mariadb_init_tool(server: &Path, search: bool) -> Option<PathBuf> {
    let dir = server.parent()?;
    let mut dirs = vec![dir.to_path_buf()];
    if let Some(base) = dir.parent() {
        dirs.push(base.join("bin"));
        dirs.push(base.join("scripts"));
    }
    if search {
        dirs.extend(path_dirs());
        dirs.extend(MYSQL_DIRS.iter().map(PathBuf::from));
    }
    MARIADB_INIT.iter().find_map(|name| find_in(&dirs, name))
}

fn find_in(dirs: &[PathBuf], name: &str) -> Option<PathBuf> {
    dirs.iter().map(|d| d.join(name)).find(|p| is_executable(p))
}

fn path_dirs() -> Vec<PathBuf> {
    std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .filter(|d| d.is_absolute())
                .collect()
        })
        .unwrap_or_default()
}

/// `<parent>/<prefix><version>/<suffix>` folders, the highest version first.
fn versioned_dirs(parent: &Path, prefix: &str, suffix: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return Vec::new();
    };
    let mut found: Vec<(Vec<u64>, PathBuf)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let version = name.strip_prefix(prefix)?;
            let key: Vec<u64> = version
                .split('.')
                .map(|p| p.parse().ok())
                .collect::<Option<_>>()?;
            Some((key, e.path().join(suffix)))
        })
        .collect();
    found.sort_by(|a, b| b.0.cmp(&a.0));
    found.into_iter().map(|(_, p)| p).collect()
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The first line of `<binary> --version`.
fn version_of(binary: &Path) -> Result<String, Error> {
    let out = Command::new(binary)
        .arg("--version")
        .output()
        .map_err(|e| Error::Server(format!("could not run {} --version: {e}", binary.display())))?;
    let text = String::from_utf8_lossy(&out.stdout);
    match text.lines().next() {
        Some(line) if out.status.success() => Ok(line.trim().to_string()),
        _ => Err(Error::Server(format!(
            "{} --version failed ({}): {}; is it a working server binary?",
            binary.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))),
    }
}

/// `15.18` from "postgres (PostgreSQL) 15.18 (Debian …)", `10.11.19` from "mariadbd  Ver
/// 10.11.19-MariaDB-0+deb12u1 for …", `8.0.36` from "mysqld  Ver 8.0.36 for Linux …".
fn parse_version(text: &str) -> Option<String> {
    text.split_whitespace()
        .map(|w| w.split(['-', '+']).next().unwrap_or(w))
        .find(|w| {
            w.contains('.')
                && w.split('.')
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        })
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_from_each_servers_banner() {
        let cases = [
            (
                "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)",
                "15.18",
            ),
            (
                "/usr/sbin/mariadbd  Ver 10.11.19-MariaDB-0+deb12u1 for debian-linux-gnu",
                "10.11.19",
            ),
            (
                "/usr/sbin/mysqld  Ver 8.0.36 for Linux on x86_64 (MySQL Community)",
                "8.0.36",
            ),
            ("postgres (PostgreSQL) 16.4", "16.4"),
        ];
        for (text, want) in cases {
            assert_eq!(parse_version(text).as_deref(), Some(want), "{text}");
        }
    }

    #[test]
    fn majors_keep_one_part_for_postgres_two_for_mariadb() {
        let b = |flavor, v: &str| Binaries {
            flavor,
            server: "/x/s".into(),
            init: "/x/i".into(),
            ctl: None,
            version: v.into(),
        };
        assert_eq!(b(Flavor::Postgres, "15.18").major(), "15");
        assert_eq!(b(Flavor::Mariadb, "10.11.19").major(), "10.11");
        assert_eq!(b(Flavor::Mysql, "8").major(), "8");
    }

    #[test]
    fn versioned_folders_come_newest_first() {
        let root = tempfile::tempdir().unwrap();
        for v in ["9.6", "15", "16", "postgresql@x"] {
            std::fs::create_dir_all(root.path().join(v).join("bin")).unwrap();
        }
        let found = versioned_dirs(root.path(), "", "bin");
        let names: Vec<_> = found
            .iter()
            .map(|p| p.parent().unwrap().file_name().unwrap().to_str().unwrap())
            .collect();
        assert_eq!(names, ["16", "15", "9.6"]);
    }
}
