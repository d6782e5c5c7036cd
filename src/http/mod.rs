//! HTTP/1.1 message framing: parsing and writing heads are pure functions over byte slices;
//! `body` streams a body between any two `AsyncReadRent`/`AsyncWriteRent` ends (it is the only
//! async code here, and it never names a socket type, a worker or a configuration).
//!
//! How bytes flow through here (the connection code in `serve` owns the buffers):
//!
//! ```text
//!  client bytes --parse::parse_request--> Request (ranges into the buffer, BodyKind, flags)
//!       |                                   |
//!       |                  head::write_request_head  (HTTP/1.1 line, hop-by-hop headers dropped,
//!       |                                   |         connection / x-forwarded-for added,
//!       |                                   |         rule edits from edit::HeadEdits applied)
//!       v                                   v
//!  body: BodyKind::Length(n) -> forward n bytes as they are
//!        BodyKind::Chunked   -> chunked::ChunkedDecoder validates and says how many bytes
//!                               belong to the message; forwarded re-chunked (canonical
//!                               size lines, chunk boundaries and trailers kept)
//!  server bytes --parse::parse_response--> Response --head::write_response_head--> client
//!                                          (1xx: head::write_interim_head, none to HTTP/1.0)
//!  anything refused --> HttpError { status, reason } --errors::error_response(status)--> client
//! ```
//!
//! `framing` holds the Content-Length / Transfer-Encoding / Connection rules (RFC 9112 6-7,
//! RFC 9110 7.6.1) shared by requests and responses; `target` the request-target forms and the
//! authority syntax of targets and Host (RFC 9112 3.2, RFC 3986); httparse only tokenizes heads.
//! The head writers send framing fields again from the parsed `Framing`, never as received.
//! Nothing here allocates per header: headers are byte ranges kept in a reused `Vec`.
//! Nothing here may panic on input: every index into a caller's buffer goes through `get`.

pub mod body;
pub mod chunked;
pub mod edit;
pub mod errors;
mod framing;
pub mod head;
pub mod parse;
mod target;

pub use chunked::{ChunkedDecoder, Piece, Progress};
pub use edit::{Head, HeadEdits};
pub use errors::error_response;
pub use head::{
    is_hop_by_hop, write_interim_head, write_request_head, write_response_head, ConnHeader,
    RequestRewrite, ResponseRewrite,
};
pub use parse::{
    header_value, parse_request, parse_response, BodyKind, Framing, HeadLimits, Header, HttpError,
    Method, Request, Response, TargetForm, Version,
};
pub use target::origin_form;
