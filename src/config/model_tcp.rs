//! `tcp-request` and `tcp-response` rules as validated: which rule set, the action, the
//! condition with its ACLs resolved (indexes into the proxy's `acls`, as HTTP rules).

use std::time::Duration;

use super::model::{Condition, Loc};

/// A proxy's `tcp-request` / `tcp-response` rules and inspect delays.
#[derive(Clone, Debug, Default)]
pub struct TcpRules {
    /// `tcp-request inspect-delay`: how long content rules may wait for more client data.
    pub inspect_delay: Option<Duration>,
    /// `tcp-request connection`: at accept, before any byte is read (frontends).
    pub connection: Vec<TcpRule>,
    /// `tcp-request session`: after the PROXY header and TLS handshake (frontends).
    pub session: Vec<TcpRule>,
    /// `tcp-request content`: on the client's first bytes (frontends, then backends).
    pub content: Vec<TcpRule>,
    /// `tcp-response inspect-delay`.
    pub response_delay: Option<Duration>,
    /// `tcp-response content`: on the server's first bytes (backends).
    pub response: Vec<TcpRule>,
}

impl TcpRules {
    pub fn is_empty(&self) -> bool {
        self.connection.is_empty()
            && self.session.is_empty()
            && self.content.is_empty()
            && self.response.is_empty()
    }
}

#[derive(Clone, Debug)]
pub struct TcpRule {
    pub action: TcpAction,
    pub cond: Option<Condition>,
    pub loc: Loc,
}

/// The rule sets, as HAProxy names them after `tcp-request` / `tcp-response`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcpSet {
    Connection,
    Session,
    Content,
    /// `tcp-response content`.
    Response,
}

impl TcpSet {
    pub fn keyword(self) -> &'static str {
        match self {
            TcpSet::Connection => "tcp-request connection",
            TcpSet::Session => "tcp-request session",
            TcpSet::Content => "tcp-request content",
            TcpSet::Response => "tcp-response content",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TcpAction {
    /// Stops the rule set; the connection goes on.
    Accept,
    /// Closes the connection (a reset at `connection`, as HAProxy), counted as denied.
    Reject,
    /// Closes without telling the client (no FIN, no RST reaching it where the system
    /// allows), counted as a denied request.
    SilentDrop,
    /// `expect-proxy layer4` (connection rules): a PROXY header comes first.
    ExpectProxy,
    /// `tcp-response content close`: ends the server connection.
    Close,
}
