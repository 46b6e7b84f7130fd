//! Upload forms on pages, and the stored images they leave: one reader for every multipart
//! page form, one answer for every stored image.
//!
//! A browser cut off mid-send shows only "connection reset", so a page upload reads the whole
//! body (up to the route's [`crate::UPLOAD_PAGE_BODY_LIMIT`]), drops a file over the 5 MB
//! limit while reading it, and answers with the form and the Chinese reason.

use crate::AppState;
use axum::extract::Multipart;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::response::{IntoResponse, Response};
use certdesk_domain::ImageFormat;
use certdesk_store::{BlobId, StoreError};
use std::collections::HashMap;

/// A file sent with a page form.
pub(crate) struct SentFile {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// What a page upload form sent: its text fields (without the CSRF token), and for each file
/// field asked for, the file or why there is none usable.
pub(crate) struct SentForm {
    pub fields: Vec<(String, String)>,
    files: HashMap<String, Result<SentFile, String>>,
}

impl SentForm {
    /// The text field `name`, or "".
    pub fn field(&self, name: &str) -> &str {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// The file sent as `name` (the first of `names` that came), or why there is none.
    pub fn take_file(&mut self, names: &[&str]) -> Result<SentFile, String> {
        names
            .iter()
            .find_map(|name| self.files.remove(*name))
            .unwrap_or_else(|| Err(NO_FILE.to_string()))
    }
}

pub(crate) const NO_FILE: &str = "请选择要上传的文件";

/// Why an upload form could not be read, in words for the person who sent it (axum's own
/// texts are English and name internals).
fn broken_upload(status: axum::http::StatusCode) -> String {
    if status == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        "上传失败：提交的内容过大，每个文件不超过 5 MB".to_string()
    } else {
        "上传失败：文件未能完整送达，请用页面上的表单重新选择文件上传".to_string()
    }
}

/// The multipart reader of a page upload request, or why the request is not one (in Chinese).
pub(crate) async fn open_page_upload(
    request: axum::extract::Request,
    state: &AppState,
) -> Result<Multipart, String> {
    use axum::extract::FromRequest;
    Multipart::from_request(request, state)
        .await
        .map_err(|rejection| broken_upload(rejection.status()))
}

/// Reads a whole multipart page form. Files in `wanted` fields are kept up to the upload limit
/// and checked for size (a larger one is read to its end and refused in Chinese); other files
/// are read and dropped; text fields are kept whatever the files.
pub(crate) async fn read_page_upload(mut multipart: Multipart, wanted: &[&str]) -> SentForm {
    let mut fields = Vec::new();
    let mut files = HashMap::new();
    loop {
        let mut field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(err) => {
                // The body broke off: every file still missing is told why.
                for name in wanted {
                    files
                        .entry(name.to_string())
                        .or_insert_with(|| Err(broken_upload(err.status())));
                }
                break;
            }
        };
        let name = field.name().unwrap_or("").to_string();
        if field.file_name().is_none() {
            if let Ok(text) = field.text().await {
                if name != crate::web::auth::CSRF_FIELD && name != "intent" {
                    fields.push((name, text));
                }
            }
            continue;
        }
        let file_name = field.file_name().unwrap_or("").to_string();
        let ours = wanted.contains(&name.as_str());
        let mut bytes = Vec::new();
        let mut size: u64 = 0;
        let mut failed = None;
        loop {
            match field.chunk().await {
                Ok(Some(chunk)) => {
                    size += chunk.len() as u64;
                    // Past the limit the rest is read and dropped.
                    if ours && size <= certdesk_domain::upload::MAX_UPLOAD_BYTES {
                        bytes.extend_from_slice(&chunk);
                    }
                }
                Ok(None) => break,
                Err(err) => {
                    failed = Some(broken_upload(err.status()));
                    break;
                }
            }
        }
        if !ours {
            continue;
        }
        let file = match (failed, file_name.is_empty() && size == 0) {
            (Some(failure), _) => Err(failure),
            (None, true) => Err(NO_FILE.into()),
            (None, false) => match certdesk_domain::upload::check_size(&file_name, size) {
                Ok(()) => Ok(SentFile {
                    name: file_name,
                    bytes,
                }),
                Err(refusal) => Err(refusal.to_string()),
            },
        };
        files.insert(name, file);
    }
    SentForm { fields, files }
}

/// A stored image as a response for the people allowed to see it (the caller checked), never
/// cached and never sniffed; `None` when the blob is gone.
pub(crate) async fn stored_image(
    state: &AppState,
    blob_id: &str,
) -> Result<Option<Response>, StoreError> {
    let id: BlobId = blob_id
        .parse()
        .map_err(|e: certdesk_store::InvalidBlobId| StoreError::Corrupt(e.to_string()))?;
    let blobs = state.blobs.clone();
    let Some(bytes) = tokio::task::spawn_blocking(move || blobs.get(&id))
        .await
        .map_err(|e| StoreError::Corrupt(format!("reading an upload stopped: {e}")))??
    else {
        return Ok(None);
    };
    let mime = ImageFormat::detect(&bytes)
        .map(ImageFormat::mime_type)
        .unwrap_or("application/octet-stream");
    Ok(Some(
        (
            [
                (CONTENT_TYPE, mime),
                (CACHE_CONTROL, "private, no-store"),
                (X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            bytes,
        )
            .into_response(),
    ))
}

/// Checks an uploaded image on the blocking pool (under its cap) and only then keeps it in the
/// blob store; a refused file writes nothing.
pub(crate) async fn keep_image(
    state: &AppState,
    file_name: &str,
    bytes: Vec<u8>,
) -> Result<certdesk_store::StoredImage, certdesk_store::UploadError> {
    let blobs = state.blobs.clone();
    let name = file_name.to_string();
    crate::web::blocking::image_work(move || blobs.check_and_store_image(&name, &bytes))
        .await
        .unwrap_or_else(|| Err(StoreError::Corrupt("checking an upload stopped".into()).into()))
}

/// Removes a kept file that no row refers to any more (an upload replaced, or a form that was
/// refused after its files were kept). Files are content-addressed: one still referred to by
/// anything stays.
pub(crate) async fn forget_blob_if_unused(state: &AppState, blob_id: &str) {
    let Ok(id) = blob_id.parse::<BlobId>() else {
        return;
    };
    if matches!(state.store.blob_is_referenced(blob_id).await, Ok(false)) {
        if let Err(err) = state.blobs.delete(&id) {
            tracing::warn!(error = %err, "an unused upload could not be deleted");
        }
    }
}
