//! HTTP/1.1: framing (pure, in the http helper's files) and the proxy built on it.
pub mod body;
pub mod proxy;
