//! A response body that holds something (a request's place in the count of requests in
//! flight) until the body is sent or dropped: a streamed export is still work in progress after
//! its handler returns.

use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::body::{BodySize, BoxBody, MessageBody};
use bytes::Bytes;

/// `body`, holding `guard` until the last byte is sent (or the connection goes).
pub struct Held<G> {
    body: BoxBody,
    _guard: G,
}

impl<G> Held<G> {
    pub fn new(body: impl MessageBody + 'static, guard: G) -> Self {
        Held { body: body.boxed(), _guard: guard }
    }
}

impl<G: Unpin> MessageBody for Held<G> {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.body).poll_next(cx)
    }
}
