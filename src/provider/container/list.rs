//! Discovery for `gc` and `status` (containers and volumes by label), and log tails for
//! error messages.

use std::collections::{BTreeMap, HashMap};

use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListVolumesOptionsBuilder, LogsOptionsBuilder,
};
use futures_util::StreamExt;

use super::{API_TIMEOUT, Docker, fail, is_not_found, within};
use crate::error::Error;

/// A container found by [`Docker::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub id: String,
    /// The name, without Docker's leading `/`.
    pub name: String,
    pub image: String,
    pub labels: BTreeMap<String, String>,
    /// Docker's state: `running`, `exited`, `created`, `paused`…
    pub state: String,
    /// Docker's human status (`Up 3 minutes`, `Exited (0) 2 hours ago`).
    pub status: String,
}

impl Listed {
    /// True when the container runs.
    pub fn is_running(&self) -> bool {
        self.state == "running"
    }
}

/// A volume found by [`Docker::list_volumes`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedVolume {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// When the engine created it (RFC 3339), when it says.
    pub created_at: Option<String>,
}

impl Docker {
    /// Containers, running or not, carrying every label of `label_filter`: `(key, value)`
    /// matches that value, `(key, "")` any value. An empty filter lists every container.
    pub async fn list(&self, label_filter: &[(&str, &str)]) -> Result<Vec<Listed>, Error> {
        let options = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&label_filters(label_filter))
            .build();
        let found = within(API_TIMEOUT, self.client.list_containers(Some(options)))
            .await
            .map_err(|e| fail(format_args!("cannot list containers {label_filter:?}"), &e))?;
        Ok(found
            .into_iter()
            .map(|c| Listed {
                id: c.id.unwrap_or_default(),
                name: c
                    .names
                    .and_then(|n| n.into_iter().next())
                    .map(|n| n.trim_start_matches('/').to_string())
                    .unwrap_or_default(),
                image: c.image.unwrap_or_default(),
                labels: c.labels.unwrap_or_default().into_iter().collect(),
                state: c.state.map(|s| s.to_string()).unwrap_or_default(),
                status: c.status.unwrap_or_default(),
            })
            .collect())
    }

    /// Volumes carrying every label of `label_filter`, as for [`Docker::list`].
    pub async fn list_volumes(
        &self,
        label_filter: &[(&str, &str)],
    ) -> Result<Vec<ListedVolume>, Error> {
        let options = ListVolumesOptionsBuilder::new()
            .filters(&label_filters(label_filter))
            .build();
        let found = within(API_TIMEOUT, self.client.list_volumes(Some(options)))
            .await
            .map_err(|e| fail(format_args!("cannot list volumes {label_filter:?}"), &e))?;
        Ok(found
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(|v| ListedVolume {
                name: v.name,
                labels: v.labels.into_iter().collect(),
                created_at: v.created_at,
            })
            .collect())
    }

    /// The last `lines` lines the container wrote (stdout and stderr interleaved), for an
    /// error message when its server died; empty when there is no such container.
    pub async fn logs_tail(&self, name: &str, lines: usize) -> Result<String, Error> {
        let options = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .tail(&lines.to_string())
            .build();
        let collect = async {
            let mut stream = self.client.logs(name, Some(options));
            let mut text = String::new();
            while let Some(chunk) = stream.next().await {
                text.push_str(&String::from_utf8_lossy(chunk?.as_ref()));
            }
            Ok(text)
        };
        match within(API_TIMEOUT, collect).await {
            Ok(text) => Ok(text),
            Err(e) if is_not_found(&e) => Ok(String::new()),
            Err(e) => Err(fail(
                format_args!("cannot read the logs of container {name}"),
                &e,
            )),
        }
    }
}

/// Docker's `label` filter: `key=value`, or `key` alone for any value.
fn label_filters(labels: &[(&str, &str)]) -> HashMap<String, Vec<String>> {
    if labels.is_empty() {
        return HashMap::new();
    }
    let values = labels
        .iter()
        .map(|(k, v)| match v {
            &"" => k.to_string(),
            v => format!("{k}={v}"),
        })
        .collect();
    HashMap::from([("label".to_string(), values)])
}
