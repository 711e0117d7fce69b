//! Which account runs the server: dbenv's own, or an unprivileged one when dbenv is root
//! (PostgreSQL refuses to run as root; MariaDB would need `--user`).

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use tokio::process::Command;

use super::locate::Flavor;
use crate::error::{Error, IoContext};

/// An unprivileged account the server runs as when dbenv itself runs as root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RunAs {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

impl RunAs {
    /// Who runs `flavor`'s server: `None` (dbenv's own user) unless dbenv runs as root,
    /// then the engine's usual account (`postgres`, `mysql`) or else `nobody`.
    pub fn for_server(flavor: Flavor) -> Result<Option<RunAs>, Error> {
        if !rustix::process::geteuid().is_root() {
            return Ok(None);
        }
        let usual = match flavor {
            Flavor::Postgres => "postgres",
            Flavor::Mariadb | Flavor::Mysql => "mysql",
        };
        match [usual, "nobody"].into_iter().find_map(RunAs::lookup) {
            Some(user) => Ok(Some(user)),
            None => Err(Error::Server(format!(
                "dbenv runs as root, and {flavor} must not; there is no `{usual}` or `nobody` \
                 account to run it as: create one (`useradd --system {usual}`) or run dbenv as \
                 a normal user"
            ))),
        }
    }

    /// The account recorded in a state file, to stop a server as the user that owns it.
    pub fn recorded(name: Option<&str>) -> Result<Option<RunAs>, Error> {
        match name {
            Some(name) if rustix::process::geteuid().is_root() => {
                RunAs::lookup(name).map(Some).ok_or_else(|| {
                    Error::Server(format!(
                        "the server runs as user `{name}`, which no longer exists"
                    ))
                })
            }
            _ => Ok(None),
        }
    }

    /// An account by name, from `/etc/passwd` (or `id` where accounts live elsewhere).
    fn lookup(name: &str) -> Option<RunAs> {
        let from_passwd = std::fs::read_to_string("/etc/passwd")
            .ok()
            .and_then(|text| {
                text.lines().find_map(|line| {
                    let f: Vec<&str> = line.split(':').collect();
                    (f.len() >= 4 && f[0] == name).then(|| (f[2].parse().ok(), f[3].parse().ok()))
                })
            });
        let (uid, gid) = match from_passwd {
            Some((Some(uid), Some(gid))) => (uid, gid),
            _ => (id_of(name, "-u")?, id_of(name, "-g")?),
        };
        Some(RunAs {
            name: name.to_string(),
            uid,
            gid,
        })
    }

    /// Make `cmd` run as this account (the standard library drops supplementary groups).
    pub fn apply(&self, cmd: &mut Command) {
        cmd.uid(self.uid)
            .gid(self.gid)
            .env("USER", &self.name)
            .env("LOGNAME", &self.name);
    }

    /// Give `dir` and everything under it to this account (only what is not its yet). A
    /// running server creates and removes files under its data folder all the while (a
    /// database dropped by another session takes its folder with it): what vanishes during
    /// the walk is skipped.
    pub fn own_tree(&self, dir: &Path) -> Result<(), Error> {
        let meta = match std::fs::symlink_metadata(dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            meta => meta.at(dir)?,
        };
        if meta.uid() != self.uid || meta.gid() != self.gid {
            match std::os::unix::fs::lchown(dir, Some(self.uid), Some(self.gid)) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                done => done.at(dir)?,
            }
        }
        if meta.is_dir() {
            let entries = match std::fs::read_dir(dir) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                entries => entries.at(dir)?,
            };
            for entry in entries {
                self.own_tree(&entry.at(dir)?.path())?;
            }
        }
        Ok(())
    }

    /// Fail with the fix when this account cannot reach `dir` (a parent folder without
    /// search permission for it, like `/root`). Never changes anyone's permissions.
    pub async fn check_reaches(&self, dir: &Path, flavor: Flavor) -> Result<(), Error> {
        let mut chain: Vec<&Path> = dir.ancestors().collect();
        chain.reverse();
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(r#"for d do [ -x "$d" ] || { printf %s "$d"; exit 1; }; done"#)
            .arg("sh")
            .args(&chain)
            .current_dir("/");
        self.apply(&mut cmd);
        let out = cmd
            .output()
            .await
            .map_err(|e| Error::Server(format!("could not run sh as `{}`: {e}", self.name)))?;
        if out.status.success() {
            return Ok(());
        }
        let blocked = String::from_utf8_lossy(&out.stdout).into_owned();
        Err(Error::Server(format!(
            "dbenv runs as root, so the {flavor} server runs as user `{}`, which cannot enter \
             {blocked}: let it through (`chmod o+x {blocked}`), or keep the project in a folder \
             that user can reach, or run dbenv as a normal user",
            self.name
        )))
    }
}

fn id_of(name: &str, flag: &str) -> Option<u32> {
    let out = std::process::Command::new("id")
        .arg(flag)
        .arg(name)
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A regression: `dbenv up` on a running server walks its data folder while other
    /// sessions drop databases; a folder gone before the walk reached it failed the command
    /// with "…/data/base/124752: No such file or directory".
    #[test]
    fn what_vanishes_during_the_walk_is_skipped() {
        let me = RunAs {
            name: "me".into(),
            uid: rustix::process::geteuid().as_raw(),
            gid: rustix::process::getegid().as_raw(),
        };
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("base/1")).unwrap();
        me.own_tree(dir.path()).unwrap();
        me.own_tree(&dir.path().join("base/124752")).unwrap();
    }
}
