//! One plain-HTTP/1.1 exchange with another server: the sandbox gateway's notifications and
//! fetching other CAs' CRLs. Only `http://` (what notification and CRL addresses use); the
//! answer is read up to a limit, so a hostile or broken peer cannot exhaust memory.

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderName, Method, Request, StatusCode, Uri};

/// What the other server answered.
pub(crate) struct HttpAnswer {
    pub status: StatusCode,
    pub body: Bytes,
}

/// Sends one request to `url` and reads at most `answer_limit` bytes of the answer. Errors are
/// in Chinese, for the operator or user reading why a delivery or a check failed. The caller
/// bounds the time (`tokio::time::timeout`).
pub(crate) async fn exchange(
    method: Method,
    url: &str,
    headers: &[(HeaderName, &str)],
    body: Vec<u8>,
    answer_limit: usize,
) -> Result<HttpAnswer, String> {
    let uri: Uri = url.parse().map_err(|e| format!("地址无效：{e}"))?;
    if uri.scheme_str() != Some("http") {
        return Err(format!("只支持 http:// 地址：{url}"));
    }
    let host = uri.host().ok_or("地址缺少主机名")?.to_string();
    let port = uri.port_u16().unwrap_or(80);
    let authority = uri
        .authority()
        .map(|a| a.as_str().to_string())
        .unwrap_or_else(|| host.clone());
    let path = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let stream = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| format!("无法连接 {authority}：{e}"))?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
    // The connection is driven beside the request and ends with this call, however it ends.
    let _driver = AbortOnDrop(tokio::spawn(connection));
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, authority);
    for (name, value) in headers {
        request = request.header(name, *value);
    }
    let request = request.body(Body::from(body)).map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let body = axum::body::to_bytes(Body::new(response.into_body()), answer_limit)
        .await
        .map_err(|_| format!("应答超过 {answer_limit} 字节或中途断开"))?;
    Ok(HttpAnswer { status, body })
}

struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
