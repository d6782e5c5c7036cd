//! Core-local idle backend connections, per server.
//!
//! Each core keeps its own idle connections (so N cores hold up to N x the idle connections
//! HAProxy would). A connection is only handed out after a non-blocking peek shows the server
//! has not closed it meanwhile: a stale connection would otherwise turn into a spurious 502.
//!
//! Idle connections that ringlb gives up on (too old, one too many, server down, shutdown) are
//! closed with a reset rather than a FIN: nothing is in flight on them, and a FIN would leave
//! the socket in TIME_WAIT on ringlb's side for a minute. With a new server connection per
//! client connection (`http-reuse safe` and short client connections), those TIME_WAIT sockets
//! pile up by the tens of thousands and make every new connect search for a free port.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use monoio::net::TcpStream;

/// Idle connections kept per server per core; beyond this the oldest is closed.
const MAX_IDLE_PER_SERVER: usize = 128;
/// Idle connections older than this are not reused (HAProxy's pool-purge-delay default is 5s).
const MAX_IDLE_AGE: Duration = Duration::from_secs(5);

type Idle = VecDeque<(TcpStream, Instant)>;

#[derive(Default)]
pub struct Pool {
    idle: RefCell<Vec<Idle>>,
}

impl Pool {
    pub fn new(servers: usize) -> Self {
        Pool {
            idle: RefCell::new((0..servers).map(|_| VecDeque::new()).collect()),
        }
    }

    /// A live idle connection to `server`, if one is left: the most recently used first, as it
    /// is the likeliest to be alive.
    pub fn take(&self, server: usize) -> Option<TcpStream> {
        let mut idle = self.idle.borrow_mut();
        let list = idle.get_mut(server)?;
        drop_expired(list);
        while let Some((conn, _)) = list.pop_back() {
            if still_open(&conn) {
                return Some(conn);
            }
            discard(conn);
        }
        None
    }

    pub fn put(&self, server: usize, conn: TcpStream) {
        let mut idle = self.idle.borrow_mut();
        let Some(list) = idle.get_mut(server) else {
            return discard(conn);
        };
        drop_expired(list);
        if list.len() >= MAX_IDLE_PER_SERVER {
            if let Some((oldest, _)) = list.pop_front() {
                discard(oldest);
            }
        }
        list.push_back((conn, Instant::now()));
    }

    /// Closes the idle connections to one server (it went down).
    pub fn clear_server(&self, server: usize) {
        if let Some(list) = self.idle.borrow_mut().get_mut(server) {
            list.drain(..).for_each(|(c, _)| discard(c));
        }
    }

    /// Closes every idle connection (at shutdown).
    pub fn clear(&self) {
        for list in self.idle.borrow_mut().iter_mut() {
            list.drain(..).for_each(|(c, _)| discard(c));
        }
    }
}

fn drop_expired(list: &mut Idle) {
    while list
        .front()
        .is_some_and(|(_, since)| since.elapsed() >= MAX_IDLE_AGE)
    {
        if let Some((c, _)) = list.pop_front() {
            discard(c);
        }
    }
}

/// Closes an idle connection with a reset (SO_LINGER 0): no TIME_WAIT left behind.
pub fn discard(conn: TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt on a socket we own, with a correctly sized `linger` value.
    unsafe {
        libc::setsockopt(
            conn.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    drop(conn);
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
