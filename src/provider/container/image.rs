//! Images: whether one is present, and the pull policy (`missing`, `always`, `never`).

use std::collections::HashMap;

use bollard::models::CreateImageInfo;
use bollard::query_parameters::CreateImageOptionsBuilder;
use futures_util::StreamExt;

use super::{API_TIMEOUT, ContainerSpec, Docker, PULL_STALL_TIMEOUT, describe, fail, within};
use crate::config::PullPolicy;
use crate::error::Error;

impl Docker {
    /// True when `image` (`postgres:16-alpine`) is in the engine's local image store.
    pub async fn image_present(&self, image: &str) -> Result<bool, Error> {
        match within(API_TIMEOUT, self.client.inspect_image(image)).await {
            Ok(_) => Ok(true),
            Err(e) if super::is_not_found(&e) => Ok(false),
            Err(e) => Err(fail(format_args!("cannot inspect image {image}"), &e)),
        }
    }

    /// Make the spec's image available as its pull policy says: `missing` pulls when it is
    /// absent, `always` pulls every time (keeping the local copy, with a warning, when the
    /// pull fails), `never` only checks that it is present.
    pub(super) async fn ensure_image(&self, spec: &ContainerSpec) -> Result<(), Error> {
        let image = spec.image.as_str();
        let present = self.image_present(image).await?;
        match spec.pull {
            PullPolicy::Never if present => Ok(()),
            PullPolicy::Never => Err(Error::Server(format!(
                "image {image} is not present locally and pull = \"never\" in [env.{}]: run \
                 `docker pull {image}`, or set pull = \"missing\"",
                spec.env_name()
            ))),
            PullPolicy::Missing if present => Ok(()),
            PullPolicy::Missing => self.pull(spec).await,
            PullPolicy::Always => match self.pull(spec).await {
                Err(e) if present => {
                    tracing::warn!("{e}; using the local copy of {image}");
                    Ok(())
                }
                other => other,
            },
        }
    }

    /// Pull the spec's image, logging each layer's status changes. Gives up when the engine
    /// reports no progress for [`PULL_STALL_TIMEOUT`].
    async fn pull(&self, spec: &ContainerSpec) -> Result<(), Error> {
        let image = spec.image.as_str();
        let (repository, tag) = split_reference(image);
        let options = CreateImageOptionsBuilder::new()
            .from_image(repository)
            .tag(tag)
            .build();
        tracing::info!(image, "pulling image");
        let started = std::time::Instant::now();
        let mut stream = self.client.create_image(Some(options), None, None);
        let mut layers = HashMap::new();
        loop {
            let next = tokio::time::timeout(PULL_STALL_TIMEOUT, stream.next()).await;
            match next {
                Ok(None) => break,
                Ok(Some(Ok(info))) => log_progress(image, &info, &mut layers),
                Ok(Some(Err(e))) => return Err(pull_failed(spec, &describe(&e))),
                Err(_) => {
                    let secs = PULL_STALL_TIMEOUT.as_secs();
                    return Err(pull_failed(spec, &format!("no progress for {secs} s")));
                }
            }
        }
        tracing::info!(image, elapsed = ?started.elapsed(), "pulled image");
        Ok(())
    }
}

/// The error for a pull that failed with `reason` (the registry's or the engine's words).
fn pull_failed(spec: &ContainerSpec, reason: &str) -> Error {
    let image = &spec.image;
    Error::Server(format!(
        "cannot pull image {image} (pull = \"{}\" in [env.{}]): {reason} — check the image \
         name, the network and the registry login (`docker login`), or get the image with \
         `docker pull {image}` and set pull = \"never\"",
        spec.pull,
        spec.env_name()
    ))
}

/// One log line per change of a layer's status (`Pulling fs layer`, `Downloading`,
/// `Pull complete`…), not per progress tick.
fn log_progress(image: &str, info: &CreateImageInfo, layers: &mut HashMap<String, String>) {
    let Some(status) = info.status.as_deref() else {
        return;
    };
    let layer = info.id.clone().unwrap_or_default();
    if layers.get(&layer).is_some_and(|s| s == status) {
        return;
    }
    layers.insert(layer.clone(), status.to_string());
    if layer.is_empty() {
        tracing::info!(image, "{status}");
    } else {
        tracing::info!(image, layer, "{status}");
    }
}

/// `registry:5000/team/pg:16` → (`registry:5000/team/pg`, `16`); no tag means `latest`
/// (an empty tag would pull every tag); a digest (`pg@sha256:…`) is passed as the tag.
fn split_reference(image: &str) -> (&str, &str) {
    if let Some((repository, digest)) = image.split_once('@') {
        return (repository, digest);
    }
    let name_start = image.rfind('/').map_or(0, |i| i + 1);
    match image[name_start..].rfind(':') {
        Some(i) => (&image[..name_start + i], &image[name_start + i + 1..]),
        None => (image, "latest"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_split_into_repository_and_tag() {
        assert_eq!(
            split_reference("postgres:16-alpine"),
            ("postgres", "16-alpine")
        );
        assert_eq!(split_reference("mariadb"), ("mariadb", "latest"));
        assert_eq!(
            split_reference("localhost:5000/team/pg"),
            ("localhost:5000/team/pg", "latest")
        );
        assert_eq!(
            split_reference("localhost:5000/team/pg:15"),
            ("localhost:5000/team/pg", "15")
        );
        assert_eq!(split_reference("pg@sha256:abcd"), ("pg", "sha256:abcd"));
    }
}
