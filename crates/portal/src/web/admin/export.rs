//! JSON-lines downloads of the admin area (the audit trail, the sign-in log): read page by page
//! in the background and streamed, so that an export of any size holds one page in memory.

use std::future::Future;

use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use domain::StorageError;

/// A download named `filename`, its lines made by `page`: given where to read from, it gives
/// the page's lines and where the next page starts (`None` after the last). A failure part-way
/// is logged and ends the download with an error, so that a client never keeps a cut file as
/// if whole.
pub fn json_lines<S, F, Fut>(
    filename: &'static str,
    what: &'static str,
    from: S,
    page: F,
) -> Response
where
    S: Send + 'static,
    F: Fn(S) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(String, Option<S>), StorageError>> + Send,
{
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<String, std::io::Error>>(4);
    tokio::spawn(async move {
        let mut next = Some(from);
        while let Some(at) = next.take() {
            match page(at).await {
                Ok((lines, after)) => {
                    if sender.send(Ok(lines)).await.is_err() {
                        return;
                    }
                    next = after;
                }
                Err(e) => {
                    tracing::error!(error = %e, "{what} export failed");
                    let _ = sender
                        .send(Err(std::io::Error::other("export failed")))
                        .await;
                    return;
                }
            }
        }
    });
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\""))
        .unwrap_or(HeaderValue::from_static("attachment"));
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-ndjson; charset=utf-8"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(receiver)),
    )
        .into_response()
}
