//! Core-local idle backend connections, per server.
//!
//! Each core keeps its own idle connections (so N cores hold up to N x the idle connections
//! HAProxy would). A connection is only handed out after a non-blocking peek shows the server
//! has not closed it meanwhile: a stale connection would otherwise turn into a spurious 502.

use std::cell::RefCell;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use monoio::net::TcpStream;

/// Idle connections kept per server per core; beyond this they are closed.
const MAX_IDLE_PER_SERVER: usize = 128;
/// Idle connections older than this are not reused (HAProxy's pool-purge-delay default is 5s).
const MAX_IDLE_AGE: Duration = Duration::from_secs(5);

#[derive(Default)]
pub struct Pool {
    idle: RefCell<Vec<Vec<(TcpStream, Instant)>>>,
}

impl Pool {
    pub fn new(servers: usize) -> Self {
        Pool {
            idle: RefCell::new((0..servers).map(|_| Vec::new()).collect()),
        }
    }

    /// A live idle connection to `server`, if one is left.
    pub fn take(&self, server: usize) -> Option<TcpStream> {
        let mut idle = self.idle.borrow_mut();
        let list = idle.get_mut(server)?;
        while let Some((conn, since)) = list.pop() {
            if since.elapsed() < MAX_IDLE_AGE && still_open(&conn) {
                return Some(conn);
            }
        }
        None
    }

    pub fn put(&self, server: usize, conn: TcpStream) {
        let mut idle = self.idle.borrow_mut();
        if let Some(list) = idle.get_mut(server) {
            if list.len() < MAX_IDLE_PER_SERVER {
                list.push((conn, Instant::now()));
            }
        }
    }

    /// Closes the idle connections to one server (it went down).
    pub fn clear_server(&self, server: usize) {
        if let Some(list) = self.idle.borrow_mut().get_mut(server) {
            list.clear();
        }
    }

    /// Closes every idle connection (at shutdown).
    pub fn clear(&self) {
        for list in self.idle.borrow_mut().iter_mut() {
            list.clear();
        }
    }
}

/// True when the peer has neither closed the connection nor sent anything unexpected.
fn still_open(conn: &TcpStream) -> bool {
    let mut byte = 0u8;
    // SAFETY: recv into one valid byte on a socket we own; MSG_PEEK leaves the data in place.
    let n = unsafe {
        libc::recv(
            conn.as_raw_fd(),
            (&mut byte as *mut u8).cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::WouldBlock
}
