//! Backups in an S3-compatible object store, through the `object_store` crate.
//!
//! `dir = "s3://bucket/prefix"`; credentials and region come from the standard `AWS_*`
//! variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`…), another store's
//! endpoint from `AWS_ENDPOINT_URL` (plain `http://` endpoints are allowed, for stores on
//! the local network). Data goes up as a multipart upload, a part at a time; an upload that
//! never completes is invisible, so a killed backup shows no object.

use std::io;
use std::sync::Arc;

use futures_util::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as Key;
use object_store::{ObjectStore, PutPayload, WriteMultipart};
use tokio::io::AsyncWriteExt;

use super::store::Fetched;
use crate::error::Error;

/// Parts in flight at once during an upload.
const CONCURRENT_PARTS: usize = 4;

#[derive(Debug)]
pub struct S3Store {
    store: Arc<dyn ObjectStore>,
    bucket: String,
    prefix: String,
}

impl S3Store {
    pub fn open(dir: &str, env: &str) -> Result<S3Store, Error> {
        let url = url::Url::parse(dir).map_err(|e| {
            Error::Unsupported(format!(
                "the backup dir of env {env} is not a valid s3:// URL ({e}); expected s3://bucket/prefix"
            ))
        })?;
        let bucket = url.host_str().unwrap_or_default().to_string();
        if bucket.is_empty() {
            return Err(Error::Unsupported(format!(
                "the backup dir of env {env} names no bucket; expected s3://bucket/prefix"
            )));
        }
        let prefix = url.path().trim_matches('/').to_string();
        // A store that does not answer fails in seconds, not after object_store's default
        // three minutes of retries.
        let retry = object_store::RetryConfig {
            max_retries: 3,
            retry_timeout: std::time::Duration::from_secs(15),
            ..Default::default()
        };
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(&bucket)
            .with_retry(retry);
        let endpoint = std::env::var("AWS_ENDPOINT_URL").or_else(|_| std::env::var("AWS_ENDPOINT"));
        if let Ok(endpoint) = endpoint {
            builder = builder
                .with_endpoint(&endpoint)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        if std::env::var("AWS_REGION").is_err() && std::env::var("AWS_DEFAULT_REGION").is_err() {
            // object_store needs a region to sign requests; S3-compatible stores ignore it.
            builder = builder.with_region("us-east-1");
        }
        let store = builder.build().map_err(|e| {
            Error::Unsupported(format!(
                "cannot use the backup dir of env {env} ({dir}): {e}; set AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and, for a store other than AWS, AWS_ENDPOINT_URL"
            ))
        })?;
        Ok(S3Store {
            store: Arc::new(store),
            bucket,
            prefix,
        })
    }

    pub fn describe(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
    }

    fn key(&self, name: &str) -> Key {
        if self.prefix.is_empty() {
            Key::from(name)
        } else {
            Key::from(format!("{}/{name}", self.prefix))
        }
    }

    fn error(&self, what: &str, e: object_store::Error) -> Error {
        Error::State(format!("{what} in {}: {e}", self.describe()))
    }

    pub async fn names(&self) -> Result<Vec<String>, Error> {
        let prefix = (!self.prefix.is_empty()).then(|| Key::from(self.prefix.as_str()));
        let listing = self
            .store
            .list_with_delimiter(prefix.as_ref())
            .await
            .map_err(|e| self.error("listing backups", e))?;
        let mut names: Vec<String> = listing
            .objects
            .iter()
            .filter_map(|o| o.location.filename().map(str::to_string))
            .collect();
        names.sort();
        Ok(names)
    }

    pub async fn read(&self, name: &str) -> Result<Vec<u8>, Error> {
        let got = self
            .store
            .get(&self.key(name))
            .await
            .map_err(|e| self.error(&format!("reading {name}"), e))?;
        let bytes = got
            .bytes()
            .await
            .map_err(|e| self.error(&format!("reading {name}"), e))?;
        Ok(bytes.to_vec())
    }

    pub async fn put(&self, name: &str, bytes: &[u8]) -> Result<(), Error> {
        self.store
            .put(&self.key(name), PutPayload::from(bytes.to_vec()))
            .await
            .map_err(|e| self.error(&format!("writing {name}"), e))?;
        Ok(())
    }

    pub async fn delete(&self, name: &str) -> Result<(), Error> {
        match self.store.delete(&self.key(name)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.error(&format!("deleting {name}"), e)),
        }
    }

    /// Download `name` to a private temporary file, streaming.
    pub async fn fetch(&self, name: &str) -> Result<Fetched, Error> {
        let temp = tempfile::Builder::new()
            .prefix("dbenv-backup-")
            .tempfile()
            .map_err(|e| Error::io(std::env::temp_dir(), e))?
            .into_temp_path();
        let got = self
            .store
            .get(&self.key(name))
            .await
            .map_err(|e| self.error(&format!("downloading {name}"), e))?;
        let mut stream = got.into_stream();
        let mut file = tokio::fs::File::create(&temp)
            .await
            .map_err(|e| Error::io(temp.to_path_buf(), e))?;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.error(&format!("downloading {name}"), e))?;
            file.write_all(&chunk)
                .await
                .map_err(|e| Error::io(temp.to_path_buf(), e))?;
        }
        file.flush()
            .await
            .map_err(|e| Error::io(temp.to_path_buf(), e))?;
        Ok(Fetched {
            path: temp.to_path_buf(),
            _temp: Some(temp),
        })
    }

    /// A multipart upload of `name`, to be written from a blocking thread.
    pub async fn sink(&self, name: &str) -> Result<S3Sink, Error> {
        let handle = tokio::runtime::Handle::current();
        let upload = self
            .store
            .put_multipart(&self.key(name))
            .await
            .map_err(|e| self.error(&format!("starting the upload of {name}"), e))?;
        Ok(S3Sink {
            handle,
            upload: Some(WriteMultipart::new(upload)),
            name: format!("{}/{name}", self.describe()),
        })
    }
}

/// An upload in progress (see [`S3Store::sink`]).
pub struct S3Sink {
    handle: tokio::runtime::Handle,
    upload: Option<WriteMultipart>,
    name: String,
}

impl io::Write for S3Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let upload = self.upload.as_mut().expect("upload in progress");
        self.handle
            .block_on(upload.wait_for_capacity(CONCURRENT_PARTS))
            .map_err(io::Error::other)?;
        upload.write(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl S3Sink {
    pub fn commit(mut self) -> Result<(), Error> {
        let upload = self.upload.take().expect("upload in progress");
        self.handle
            .block_on(upload.finish())
            .map_err(|e| Error::State(format!("completing the upload of {}: {e}", self.name)))?;
        Ok(())
    }

    pub fn abort(mut self) {
        if let Some(upload) = self.upload.take() {
            let _ = self.handle.block_on(upload.abort());
        }
    }
}
